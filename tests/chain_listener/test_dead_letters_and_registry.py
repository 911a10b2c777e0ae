"""What is not a protocol event goes to the DLQ with the reason, and the contract registry is
published at start and again whenever a contract's code appears or disappears.

Both use Hardhat's `hardhat_setCode` on the dev chain for a moment: YieldScalesPool's address
runs LogEmitter (so a watched address emits logs the real contract never does), FeePolicy's
code is removed; each is put back in a `finally`.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from devstack.protocol import Protocol
from eth_abi.abi import encode
from eth_utils.crypto import keccak
from reservesync.contracts import SystemContract
from reservesync.topics import CHAIN_EVENTS, DLQ, REGISTRY
from web3 import Web3
from web3.types import TxReceipt

from tests.chain_listener.support import kafka_records
from tests.chain_listener.support import listener_harness as harness
from tests.chain_listener.support.chains import artifact, hash_hex, mined, rpc
from tests.support.stack import Endpoints
from tests.support.waiting import eventually

YIELD_CLAIMED = "0x" + keccak(text="YieldClaimed(address,uint256)").hex()
USER = "0x" + "ab" * 20
USER_TOPIC = "0x" + "00" * 12 + "ab" * 20

# (topics, data, what the dead letter's error must say); the last one is a real YieldClaimed.
STRANGE_LOGS: list[tuple[list[str], bytes, str]] = [
    (["0x" + keccak(text="Mystery(uint256)").hex()], encode(["uint256"], [5]), "unknown topic0"),
    ([], b"", "unknown topic0 none (anonymous log)"),
    ([YIELD_CLAIMED], encode(["uint256"], [1]), "needs 1 indexed topics, the log has 0"),
    ([YIELD_CLAIMED, USER_TOPIC], b"\x01", "YieldClaimed does not decode"),
]
VALID = ([YIELD_CLAIMED, USER_TOPIC], encode(["uint256"], [77]))


def emit_through_pool(protocol: Protocol, build: Path) -> list[TxReceipt]:
    """Each of STRANGE_LOGS and VALID, emitted from YieldScalesPool's address."""
    w3, pool = protocol.w3, protocol.contract(SystemContract.YIELD_SCALES_POOL).address
    emitter = artifact(build, "LogEmitter")
    original = w3.eth.get_code(pool)
    rpc(w3, "hardhat_setCode", pool, emitter["deployedBytecode"])
    try:
        contract = w3.eth.contract(address=pool, abi=emitter["abi"])
        return [
            mined(w3, contract.functions.emitLog(topics, data).transact({"from": protocol.owner}))
            for topics, data in [*((t, d) for t, d, _ in STRANGE_LOGS), VALID]
        ]
    finally:
        rpc(w3, "hardhat_setCode", pool, "0x" + bytes(original).hex())


async def test_unknown_logs_of_a_watched_address_are_dead_lettered(
    endpoints: Endpoints, protocol: Protocol, contracts_build: Path
) -> None:
    bootstrap = endpoints.kafka_bootstrap_servers
    settings = harness.dev_chain_listener(endpoints, "dlq")
    letters_cursor = await kafka_records.TopicCursor.at_end(bootstrap, DLQ.name)
    events_cursor = await kafka_records.TopicCursor.at_end(bootstrap, CHAIN_EVENTS.name)
    before = harness.metric("chain_listener_dead_letters_total", {"reason": "UnknownLog"})
    async with harness.running(settings) as listener:
        receipts = await asyncio.to_thread(emit_through_pool, protocol, contracts_build)
        await harness.published_through(settings, receipts[-1]["blockNumber"], listener=listener)
    producer = settings.producer_transactional_id
    letters = await letters_cursor.messages(producer, "dlq.record/v1")
    events = await events_cursor.messages(producer, "chain.event/v1")

    pool = endpoints.deployment.contracts[SystemContract.YIELD_SCALES_POOL].address
    assert len(letters) == len(STRANGE_LOGS)
    for letter, receipt, (topics, data, reason) in zip(
        letters, receipts, STRANGE_LOGS, strict=False
    ):
        assert reason in letter["error"], letter["error"]
        assert letter["error"].startswith("UnknownLog: ")
        assert letter["source_topic"] == f"chain:{endpoints.deployment.chain_id}"
        assert letter["offset"] == receipt["blockNumber"]
        assert (letter["key"], letter["service"]) == (pool, "chain-listener")
        log: dict[str, Any] = json.loads(base64.b64decode(letter["value_base64"]))
        assert log["transactionHash"] == hash_hex(receipt["transactionHash"])
        assert (log["topics"], log["data"]) == (topics, "0x" + data.hex())
    assert [(e["event"], e["args"], e["tx_hash"]) for e in events] == [
        ("YieldClaimed", {"user": USER, "amount": "77"}, hash_hex(receipts[-1]["transactionHash"]))
    ]
    after = harness.metric("chain_listener_dead_letters_total", {"reason": "UnknownLog"})
    assert after - before == len(STRANGE_LOGS)


async def test_registry_published_at_start_and_when_code_presence_changes(
    endpoints: Endpoints, protocol: Protocol
) -> None:
    settings = harness.dev_chain_listener(
        endpoints, "registry", chain_registry_check_interval_s=0.2
    )
    producer = settings.producer_transactional_id
    cursor = await kafka_records.TopicCursor.at_end(
        endpoints.kafka_bootstrap_servers, REGISTRY.name
    )
    w3 = protocol.w3
    policy = Web3.to_checksum_address(
        endpoints.deployment.contracts[SystemContract.FEE_POLICY].address
    )

    async def registry() -> list[dict[str, Any]]:
        return await cursor.messages(producer, "registry.contract/v1")

    async def presence_of_policy() -> list[bool]:
        return [r["code_present"] for r in await registry() if r["name"] == "FeePolicy"]

    async with harness.running(settings):
        at_start = await eventually(
            lambda: _at_least(registry, 6), what="the registry published at start"
        )
        by_name = {r["name"]: r for r in at_start}
        assert set(by_name) == {name.value for name in endpoints.deployment.contracts}
        for name, contract in endpoints.deployment.contracts.items():
            record = by_name[name.value]
            assert (record["address"], record["deployed_block"], record["code_present"]) == (
                contract.address,
                contract.deployed_block,
                True,
            )
            assert record["chain_id"] == endpoints.deployment.chain_id
        code = "0x" + bytes(w3.eth.get_code(policy)).hex()
        rpc(w3, "hardhat_setCode", policy, "0x")
        try:
            await eventually(
                lambda: _is(presence_of_policy, [True, False]), what="FeePolicy's code gone"
            )
        finally:
            rpc(w3, "hardhat_setCode", policy, code)
        await eventually(
            lambda: _is(presence_of_policy, [True, False, True]), what="FeePolicy's code back"
        )


Read = Callable[[], Awaitable[list[Any]]]


async def _at_least(read: Read, count: int) -> list[Any]:
    found = await read()
    return found if len(found) >= count else []


async def _is(read: Read, expected: list[Any]) -> bool:
    return await read() == expected
