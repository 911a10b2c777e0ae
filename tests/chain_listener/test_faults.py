"""A provider that rate-limits, times out, refuses large ranges and truncates log pages, behind
a primary URL that does not answer at all: every event still arrives exactly once, and the
listener keeps going."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from chain_listener.config import Settings
from devstack.protocol import Protocol
from devstack.rpc_faults import Faults, FaultyRpcProxy
from reservesync.topics import CHAIN_EVENTS
from web3.contract import Contract
from web3.types import TxReceipt

from tests.chain_listener.support import kafka_records
from tests.chain_listener.support import listener_harness as harness
from tests.chain_listener.support.chains import batch_user, deposit_for_many, free_port, hash_hex
from tests.support.stack import Endpoints

TRUNCATED = ("chain_listener_incomplete_answers_total", {"kind": "truncated"})
BATCHES, PER_BATCH = 4, 40
ALLOWED_BLOCKS = 3
FAULTS = Faults(
    rate_limit_every=9,
    timeout_every=13,
    hold_s=1.5,
    max_log_blocks=ALLOWED_BLOCKS,
    truncate_every=2,
)


def expected_event_ids(chain_id: int, receipts: list[TxReceipt]) -> set[str]:
    return {
        f"{chain_id}:{hash_hex(r['transactionHash'])}:{log['logIndex']}"
        for r in receipts
        for log in r["logs"]
    }


def errors(kind: str) -> float:
    return harness.metric("chain_listener_rpc_errors_total", {"kind": kind})


async def test_faulty_provider_loses_nothing_and_duplicates_nothing(
    endpoints: Endpoints, protocol: Protocol, batch_depositor: Contract
) -> None:
    seed = int.from_bytes(harness.unique_id("seed").encode()[-8:], "big")
    before = {kind: errors(kind) for kind in ("rate_limited", "timeout", "connection")}
    truncated_before = harness.metric(*TRUNCATED)
    cursor = await kafka_records.TopicCursor.at_end(
        endpoints.kafka_bootstrap_servers, CHAIN_EVENTS.name
    )
    async with FaultyRpcProxy(endpoints.rpc_url, FAULTS) as proxy:
        settings = harness.dev_chain_listener(
            endpoints,
            "faults",
            chain_rpc_url=f"http://127.0.0.1:{free_port()}",  # nobody listens there
            chain_rpc_fallback_urls=[proxy.url],
            chain_rpc_timeout_s=1.0,
            chain_initial_block_range=20,
        )
        # Made before the listener starts: its first ranges are a backfill, larger than allowed.
        receipts = [
            deposit_for_many(protocol, batch_depositor, seed + i, PER_BATCH) for i in range(BATCHES)
        ] + [protocol.deposit_fees(protocol.new_user(), 10**15) for _ in range(3)]
        await _listen_through(settings, receipts)
    published = await cursor.messages(settings.producer_transactional_id, "chain.event/v1")

    _assert_exactly_once(endpoints, published, receipts)
    batch_users = {e["args"]["user"] for e in published if e["tx_hash"] in _hashes(receipts)}
    assert {
        batch_user(seed + i, n) for i in range(BATCHES) for n in range(PER_BATCH)
    } <= batch_users

    assert set(proxy.injected) == {"rate_limited", "timeout", "range_refused", "truncated"}, (
        f"every fault must really have happened: {dict(proxy.injected)}"
    )
    for (first, last_asked), (next_first, next_last) in zip(
        proxy.log_ranges, proxy.log_ranges[1:], strict=False
    ):
        if last_asked - first + 1 > ALLOWED_BLOCKS and next_first == first:
            assert next_last - next_first + 1 <= ALLOWED_BLOCKS, "the suggested range is used"
    assert all(errors(kind) > before[kind] for kind in before), "errors are counted by kind"
    assert harness.metric(*TRUNCATED) > truncated_before


async def _listen_through(settings: Settings, receipts: list[TxReceipt]) -> None:
    async with harness.running(settings) as listener:
        last = max(r["blockNumber"] for r in receipts)
        await harness.published_through(settings, last, listener=listener, within=120)


def _assert_exactly_once(
    endpoints: Endpoints, published: list[dict[str, Any]], receipts: list[TxReceipt]
) -> None:
    ids = Counter(e["event_id"] for e in published)
    expected = expected_event_ids(endpoints.deployment.chain_id, receipts)
    assert expected - set(ids) == set(), "events lost"
    assert [i for i in expected if ids[i] > 1] == [], "events published twice"


def _hashes(receipts: list[TxReceipt]) -> set[str]:
    return {hash_hex(r["transactionHash"]) for r in receipts}


OMITTED = ("chain_listener_incomplete_answers_total", {"kind": "omitted"})


@pytest.mark.parametrize("block_receipts", [True, False], ids=["block-receipts", "tx-receipts"])
async def test_a_log_index_that_lost_blocks_is_corrected_from_the_receipts(
    endpoints: Endpoints, protocol: Protocol, batch_depositor: Contract, block_receipts: bool
) -> None:
    """eth_getLogs answers successfully without the logs of every second block, by range and
    by hash alike (enviodev/hyperindex#1498); the receipts still hold them. Every event is
    published once, read from eth_getBlockReceipts where the node has it and from the
    transactions' receipts where it does not (Hardhat)."""
    seed = int.from_bytes(harness.unique_id("omit").encode()[-8:], "big")
    omitted_before = harness.metric(*OMITTED)
    cursor = await kafka_records.TopicCursor.at_end(
        endpoints.kafka_bootstrap_servers, CHAIN_EVENTS.name
    )
    faults = Faults(omit_blocks_every=2, serve_block_receipts=block_receipts)
    async with FaultyRpcProxy(endpoints.rpc_url, faults) as proxy:
        settings = harness.dev_chain_listener(
            endpoints, "omit", chain_rpc_url=proxy.url, chain_initial_block_range=20
        )
        receipts = [deposit_for_many(protocol, batch_depositor, seed + i, 3) for i in range(4)]
        receipts += [protocol.deposit_fees(protocol.new_user(), 10**15) for _ in range(4)]
        await _listen_through(settings, receipts)
    published = await cursor.messages(settings.producer_transactional_id, "chain.event/v1")

    _assert_exactly_once(endpoints, published, receipts)
    assert proxy.injected["omitted"] > 0, "the node really left logs out"
    assert harness.metric(*OMITTED) > omitted_before
