"""Every event of the six system contracts (SPEC section 4), made by real transactions on the
dev chain while a listener follows the head, arrives on `rbtc.chain.events.v1` once, decoded
with the exact arguments, envelope and key the contract of SPEC section 3 asks for."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime

from devstack.protocol import Protocol
from reservesync.contracts import SystemContract, events
from reservesync.messages import ChainEvent
from reservesync.topics import CHAIN_EVENTS
from web3.types import TxReceipt

from tests.chain_listener.support import kafka_records, protocol_script
from tests.chain_listener.support import listener_harness as harness
from tests.chain_listener.support.chains import hash_hex
from tests.support.stack import Endpoints

SYNCED_PUBLISHED = (
    "chain_listener_events_published_total",
    {"contract": "OracleAggregator", "event": "Synced"},
)


def every_spec_event() -> set[tuple[SystemContract, str]]:
    return {(contract, item["name"]) for contract in SystemContract for item in events(contract)}


async def test_every_event_arrives_once_decoded_exactly(
    endpoints: Endpoints, protocol: Protocol
) -> None:
    settings = harness.dev_chain_listener(endpoints, "events")
    cursor = await kafka_records.TopicCursor.at_end(
        endpoints.kafka_bootstrap_servers, CHAIN_EVENTS.name
    )
    synced_before = harness.metric(*SYNCED_PUBLISHED)
    async with harness.running(settings) as listener:
        # In a thread: the listener follows the head in this loop while blocks are mined.
        steps = await asyncio.to_thread(protocol_script.ProtocolScript(protocol).run)
        await harness.published_through(
            settings, steps[-1].receipt["blockNumber"], listener=listener
        )
    records = await cursor.read(producer=settings.producer_transactional_id)
    published = kafka_records.of_schema(records, "chain.event/v1")
    keys = {r.json()["event_id"]: r.key for r in records if r.json()["schema"] == "chain.event/v1"}

    expected_kinds = {(contract, name) for step in steps for contract, name, _ in step.events}
    assert expected_kinds == every_spec_event(), "the script must make every event of the spec"
    by_tx: dict[str, list[ChainEvent]] = {}
    for document in published:
        decoded = ChainEvent.model_validate(document)  # also checks args against the ABI
        by_tx.setdefault(decoded.tx_hash, []).append(decoded)
    for step in steps:
        tx_hash = hash_hex(step.receipt["transactionHash"])
        arrived = sorted(by_tx.get(tx_hash, []), key=lambda e: e.log_index)
        as_carried: list[protocol_script.Event] = [
            (e.contract, e.event, dict(e.args)) for e in arrived
        ]
        assert as_carried == step.events, f"events of {tx_hash}"
        check_envelopes(protocol, step.receipt, arrived)
        for decoded in arrived:
            check_key(decoded, keys[decoded.event_id])
    ids = Counter(document["event_id"] for document in published)
    assert [i for i, n in ids.items() if n > 1] == [], "an event was published twice"
    assert harness.metric(*SYNCED_PUBLISHED) - synced_before >= 5


def check_key(decoded: ChainEvent, key: bytes | None) -> None:
    """SPEC section 3: the user address of the event, else the contract address."""
    assert key is not None
    involved = [
        value
        for name, value in decoded.args.items()
        if name in ("user", "to", "from", "owner") and value != protocol_script.ZERO
    ]
    if "user" in decoded.args:
        assert key.decode() == decoded.args["user"], decoded.event_id
    elif involved:
        assert key.decode() in involved, decoded.event_id
    else:
        assert key.decode() == decoded.address, decoded.event_id
    assert key == decoded.partition_key.encode()


def check_envelopes(protocol: Protocol, receipt: TxReceipt, arrived: list[ChainEvent]) -> None:
    block = protocol.w3.eth.get_block(receipt["blockNumber"])
    logs = sorted(receipt["logs"], key=lambda log: log["logIndex"])
    chain_id = protocol.deployment.chain_id
    for log, decoded in zip(logs, arrived, strict=True):
        tx_hash = hash_hex(receipt["transactionHash"])
        assert decoded.event_id == f"{chain_id}:{tx_hash}:{log['logIndex']}"
        assert (decoded.chain_id, decoded.block_number, decoded.block_hash) == (
            chain_id,
            receipt["blockNumber"],
            hash_hex(receipt["blockHash"]),
        )
        assert (decoded.tx_hash, decoded.tx_index) == (tx_hash, receipt["transactionIndex"])
        assert decoded.block_timestamp == datetime.fromtimestamp(block["timestamp"], UTC)
        assert decoded.address == protocol.deployment.contracts[decoded.contract].address
        assert decoded.address == str(log["address"]).lower()
