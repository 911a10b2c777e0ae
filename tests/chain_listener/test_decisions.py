"""The listener's small decisions, on their own: reading a provider's range refusal, adapting
the range size, choosing the RPC URL (and reading the URLs from the environment), and the
logsBloom test (against a real block header)."""

from __future__ import annotations

import time

import pytest
from chain_listener.completeness import bloom_mask
from chain_listener.config import Settings
from chain_listener.failover import EndpointPool, parse_retry_after
from chain_listener.node import BlockHeader
from chain_listener.ranges import range_refusal
from chain_listener.rpc import RpcError
from devstack.protocol import Protocol
from reservesync.cli import settings_help
from reservesync.contracts import SystemContract

ONE_CONTRACT = '{"FeeVault": {"address": "0x' + "11" * 20 + '", "deployed_block": 1}}'
"""CHAIN_CONTRACTS of the settings tests: one is enough to be valid."""


def refusal(message: str, data: object = None) -> int | str | None:
    found = range_refusal(
        RpcError("eth_getLogs", {"code": -32005, "message": message, "data": data})
    )
    return "not a refusal" if found is None else found.suggested_size


@pytest.mark.parametrize(
    ("message", "data", "suggested"),
    [
        # Infura / geth-style, with the range to use
        (
            "query returned more than 10000 results. Try with this block range [0x1B4, 0x1C7].",
            None,
            20,
        ),
        # Alchemy: the hint sits in the message after a long explanation
        (
            "Log response size exceeded. You can make eth_getLogs requests with up to a 2K "
            "block range and no limit on the response size, or you can request any block "
            "range with a cap of 10K logs in the response. Based on your parameters, this "
            "block range should work: [0x10, 0x5f]",
            None,
            80,
        ),
        ("invalid block range params", {"message": "block range too large"}, None),
        ("exceed maximum block range: 5000", None, 5000),
        ("eth_getLogs is limited to a 10,000 range", None, 10_000),
        ("block range is too wide", None, None),
        ("query returned more than 10000 results", None, None),
        ("execution reverted", None, "not a refusal"),
        ("header not found", None, "not a refusal"),
    ],
)
def test_range_refusals_and_their_hints(message: str, data: object, suggested: object) -> None:
    assert refusal(message, data) == suggested


def test_failover_prefers_the_first_url_that_is_not_resting() -> None:
    pool = EndpointPool(["http://primary", "http://fallback"])
    primary, wait = pool.choose()
    assert (primary.url, wait) == ("http://primary", 0.0)
    pool.failed(primary)
    fallback, wait = pool.choose()
    assert (fallback.url, wait) == ("http://fallback", 0.0)
    pool.failed(fallback, retry_after_s=5.0)
    soonest, wait = pool.choose()
    assert soonest is primary, "with every URL resting, the one ready first"
    assert 0 < wait <= 0.1
    pool.succeeded(primary)
    assert pool.choose() == (primary, 0.0)


def test_retry_after_in_seconds_or_as_a_date() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    later = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 60))
    assert 55 < (parse_retry_after(later) or 0) <= 60


def test_bloom_says_maybe_exactly_for_blocks_with_our_logs(protocol: Protocol) -> None:
    receipt = protocol.deposit_fees(protocol.new_user(), 10**15)
    vault = protocol.deployment.contracts[SystemContract.FEE_VAULT].address
    mask = bloom_mask(bytes.fromhex(vault[2:]))
    with_log = protocol.w3.eth.get_block(receipt["blockNumber"])
    assert int(bytes(with_log["logsBloom"]).hex(), 16) & mask == mask
    empty = BlockHeader(number=0, hash="0x", parent_hash="0x", timestamp=0, logs_bloom=0)
    assert empty.logs_bloom & mask != mask


@pytest.mark.parametrize(
    "value", ["http://b:8545, http://c:8545", '["http://b:8545", "http://c:8545"]']
)
def test_fallback_urls_come_comma_separated_or_as_json(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("CHAIN_RPC_URL", "http://a:8545")
    monkeypatch.setenv("CHAIN_RPC_FALLBACK_URLS", value)
    monkeypatch.setenv("CHAIN_CONTRACTS", ONE_CONTRACT)
    settings = Settings()
    assert settings.rpc_urls == ["http://a:8545", "http://b:8545", "http://c:8545"]


@pytest.mark.parametrize(
    ("delivery", "given", "expected"),
    [("finalized", None, 0.5), ("instant", None, 0.25), ("instant", "1.5", 1.5)],
)
def test_instant_delivery_polls_faster_unless_told(
    monkeypatch: pytest.MonkeyPatch, delivery: str, given: str | None, expected: float
) -> None:
    monkeypatch.setenv("CHAIN_CONTRACTS", ONE_CONTRACT)
    monkeypatch.setenv("CHAIN_DELIVERY", delivery)
    if given is None:
        monkeypatch.delenv("CHAIN_POLL_INTERVAL_S", raising=False)
    else:
        monkeypatch.setenv("CHAIN_POLL_INTERVAL_S", given)
    assert Settings().chain_poll_interval_s == expected


@pytest.mark.parametrize(
    ("given", "expected"),
    [(None, None), ("", None), ("ws://node:8545", "ws://node:8545"), ("wss://n/k", "wss://n/k")],
)
def test_the_websocket_url_is_optional_and_only_a_websocket_one(
    monkeypatch: pytest.MonkeyPatch, given: str | None, expected: str | None
) -> None:
    monkeypatch.setenv("CHAIN_CONTRACTS", ONE_CONTRACT)
    if given is None:
        monkeypatch.delenv("CHAIN_WS_URL", raising=False)
    else:
        monkeypatch.setenv("CHAIN_WS_URL", given)
    assert Settings().chain_ws_url == expected


def test_an_http_url_is_no_websocket_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHAIN_CONTRACTS", ONE_CONTRACT)
    monkeypatch.setenv("CHAIN_WS_URL", "http://node:8545")
    with pytest.raises(ValueError, match="CHAIN_WS_URL must start with ws:// or wss://"):
        Settings()


def test_help_lists_the_head_subscription_settings() -> None:
    text = settings_help(Settings)
    assert "CHAIN_WS_URL" in text
    assert "newHeads" in text
    assert "CHAIN_WS_POLL_INTERVAL_S" in text
