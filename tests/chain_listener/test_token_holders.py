"""Every holder's rBTC and wrBTC from the chain's own Transfers, end to end: the contracts on
the private Hardhat node, a listener of it in instant delivery, Kafka, the db-writer's own code
(`settle` and `BatchWriter`, as its consumer runs them) writing a database of its own, and the
API over that database. Checked against the chain itself: every holder's `balanceOf`, both
`totalSupply`s, the deficit (`totalSupply` - the synced balances), an orphaned Transfer taken
back, and a replay of the same records in another partition order giving the same checksum.

Here rather than under tests/db_writer because the private chain (reorgs disturb nobody there)
and the listener harness are these tests' fixtures.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import ConsumerRecord, TopicPartition
from db_writer.batch_writer import BatchWriter
from db_writer.checksum import combined, database_checksum
from db_writer.storage import SinkStore
from devstack import services
from pydantic import SecretStr
from reservesync import kafka
from reservesync.crypto import FieldCipher
from reservesync.settings import EncryptionSettings, KafkaSettings
from reservesync.topics import CHAIN_EVENTS

from tests.chain_listener.support import listener_harness as harness
from tests.chain_listener.support.chains import PrivateChain, account_that_sends, hash_hex
from tests.chain_listener.support.kafka_records import Record, TopicCursor
from tests.support.api_process import API, start_api
from tests.support.databases import FreshDatabase, fresh_database
from tests.support.stack import Endpoints
from tests.support.waiting import eventually

GROUP = "token-holders-test"
FEES_WEI = 10**18


def _cipher(endpoints: Endpoints) -> FieldCipher:
    return FieldCipher.from_settings(
        EncryptionSettings(field_encryption_key=SecretStr(endpoints.field_encryption_key))
    )


def _consumer_record(record: Record) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        timestamp=0,
        timestamp_type=0,
        key=record.key,
        value=record.value,
        checksum=None,
        serialized_key_size=len(record.key or b""),
        serialized_value_size=len(record.value or b""),
        headers=(),
    )


async def apply(
    endpoints: Endpoints,
    url: str,
    records: Sequence[Record],
    *,
    partitions_reversed: bool = False,
    batch_size: int = 50,
) -> None:
    """The records through the db-writer's batch writer, per partition in offset order, the
    partitions interleaved as the order says. Applying a record again changes nothing (the
    writer's offset fence), so a test may apply everything read so far, again and again."""
    store = await SinkStore.connect(url, GROUP, 2)
    producer = kafka.producer(
        KafkaSettings(kafka_bootstrap_servers=endpoints.kafka_bootstrap_servers)
    )
    await producer.start()
    try:
        writer = BatchWriter(store, producer, _cipher(endpoints))
        per_partition: dict[int, list[Record]] = {}
        for record in sorted(records, key=lambda r: (r.partition, r.offset)):
            per_partition.setdefault(record.partition, []).append(record)
        order = sorted(per_partition, reverse=partitions_reversed)
        for start in range(0, max((len(v) for v in per_partition.values()), default=0), batch_size):
            batch = {
                TopicPartition(CHAIN_EVENTS.name, p): [
                    _consumer_record(r) for r in per_partition[p][start : start + batch_size]
                ]
                for p in order
            }
            await writer.write(batch)
    finally:
        await producer.stop()
        await store.close()


async def holdings(url: str) -> dict[str, tuple[int, int]]:
    connection = await asyncpg.connect(url)
    try:
        rows = await connection.fetch(
            "SELECT user_address, rbtc_sats, wrbtc_sats FROM token_balances"
        )
    finally:
        await connection.close()
    return {r["user_address"]: (int(r["rbtc_sats"]), int(r["wrbtc_sats"])) for r in rows}


async def addresses(url: str, query: str) -> list[str]:
    connection = await asyncpg.connect(url)
    try:
        return [r[0] for r in await connection.fetch(query)]
    finally:
        await connection.close()


@pytest.fixture(name="fresh")
def _fresh(endpoints: Endpoints) -> Iterator[FreshDatabase]:
    with fresh_database(endpoints) as database:
        yield database


@pytest.fixture(name="replayed")
def _replayed(endpoints: Endpoints) -> Iterator[FreshDatabase]:
    with fresh_database(endpoints) as database:
        yield database


class Run:
    """The scenario's chain, its listener's records, and the database they are applied to."""

    def __init__(self, endpoints: Endpoints, chain: PrivateChain, fresh: FreshDatabase) -> None:
        self.endpoints = endpoints
        self.chain = chain
        self.fresh = fresh
        first = min(c.deployed_block for c in chain.deployment.contracts.values())
        self.settings = harness.listener_settings(
            endpoints.kafka_bootstrap_servers,
            chain.rpc_url,
            chain.deployment,
            transactional_id=harness.unique_id("holders"),
            start_block=first,
            chain_delivery="instant",
            chain_confirmations=3,
        )
        self.cursor: TopicCursor | None = None

    async def records(self) -> list[Record]:
        assert self.cursor is not None
        return await self.cursor.read(self.settings.producer_transactional_id)

    async def sync_database(self, block_hash: str) -> list[Record]:
        """Once the listener published the block, everything it published, applied."""
        await harness.published_block(self.settings, block_hash)
        records = await self.records()
        await apply(self.endpoints, self.fresh.writer_url, records)
        return records

    async def assert_every_holder_matches_the_chain(self) -> dict[str, tuple[int, int]]:
        held = await holdings(self.fresh.migrator_url)
        for holder, amounts in held.items():
            assert amounts == self.chain.protocol.held(holder), holder
        supply_rbtc, supply_wrbtc = self.chain.protocol.total_supplies()
        assert sum(r for r, _ in held.values()) == supply_rbtc
        assert sum(w for _, w in held.values()) == supply_wrbtc
        return held


async def test_every_holder_equals_balance_of_through_wraps_transfers_burns_and_a_reorg(
    endpoints: Endpoints, private: PrivateChain, fresh: FreshDatabase, replayed: FreshDatabase
) -> None:
    protocol = private.protocol
    wrapper, receiver, burned, orphan_receiver, canonical_receiver = (
        account_that_sends(private.w3) for _ in range(5)
    )
    run = Run(endpoints, private, fresh)
    run.cursor = await TopicCursor.at_end(endpoints.kafka_bootstrap_servers, CHAIN_EVENTS.name)
    for user in (wrapper, burned):
        protocol.deposit_fees(user, FEES_WEI)
    protocol.sync(wrapper, 100_000)
    protocol.wrap(wrapper, 60_000)
    protocol.send_wrbtc(wrapper, receiver, 25_000)
    protocol.redeem(receiver, 10_000)  # a holder who is no user gets soulbound rBTC back
    # Synced down by 90k: its 40k rBTC burned, its 35k wrBTC slashed, 15k out of reach.
    protocol.sync(wrapper, 10_000)
    protocol.sync(burned, 50_000)
    protocol.wrap(burned, 20_000)
    last = protocol.emergency_burn(burned)  # 30k rBTC burned, 20k wrBTC slashed

    async with harness.running(run.settings):
        await run.sync_database(hash_hex(last["blockHash"]))
        held = await run.assert_every_holder_matches_the_chain()
        assert held[receiver.lower()] == (10_000, 15_000)
        assert held[wrapper.lower()] == held[burned.lower()] == (0, 0)
        assert protocol.held(receiver) == (10_000, 15_000)

        # A Transfer in a block that a reorg then orphans, and another in its place.
        snapshot = private.snapshot()
        orphan = protocol.send_wrbtc(receiver, orphan_receiver, 5_000)
        await run.sync_database(hash_hex(orphan["blockHash"]))
        assert (await holdings(fresh.migrator_url))[orphan_receiver.lower()] == (0, 5_000)
        private.revert(snapshot)
        canonical = protocol.send_wrbtc(receiver, canonical_receiver, 3_000)
        assert canonical["blockNumber"] == orphan["blockNumber"]
        records = await run.sync_database(hash_hex(canonical["blockHash"]))
    assert any(r.json()["schema"] == "chain.reorg/v1" for r in records if r.value)
    held = await run.assert_every_holder_matches_the_chain()
    assert orphan_receiver.lower() not in held, "the orphaned Transfer is taken back"
    assert held[canonical_receiver.lower()] == (0, 3_000)
    assert held[receiver.lower()] == (10_000, 12_000)

    await _the_api_shows_holdings_and_the_deficit(endpoints, run, held)

    # The same records into an empty database, partitions in the other order, other
    # batches: the same content.
    await apply(endpoints, replayed.writer_url, records, partitions_reversed=True, batch_size=7)
    cipher = _cipher(endpoints)
    live = await database_checksum(fresh.migrator_url, cipher)
    again = await database_checksum(replayed.migrator_url, cipher)
    assert live["token_movements"][0] > 0
    assert combined(again) == combined(live), {
        t: (live[t], again[t]) for t in live if live[t] != again[t]
    }


async def _the_api_shows_holdings_and_the_deficit(
    endpoints: Endpoints, run: Run, held: dict[str, tuple[int, int]]
) -> None:
    protocol = run.chain.protocol
    supply_rbtc, supply_wrbtc = protocol.total_supplies()
    synced = await addresses(
        run.fresh.migrator_url, "SELECT DISTINCT user_address FROM balance_history"
    )
    users = await addresses(run.fresh.migrator_url, "SELECT address FROM users")
    backed = sum(protocol.last_synced(user) for user in synced)
    url = start_api(endpoints, run.fresh.api_url, "apiholders", API_RATE_LIMIT_PER_S="0")
    try:
        async with httpx.AsyncClient(base_url=f"{url}/api/realtime", timeout=10) as http:
            for holder, (rbtc, wrbtc) in held.items():
                response = await http.get("/balances", params={"address": holder})
                assert response.status_code == 200, response.text
                body = response.json()
                assert (body["rbtc_sats"], body["wrbtc_sats"]) == (rbtc, wrbtc), body
                assert body["is_user"] is (holder in users)

            async def published() -> dict[str, Any] | None:
                body: dict[str, Any] = (await http.get("/proof-of-reserves")).json()
                return body if body["total_rbtc_sats"] == supply_rbtc else None

            proof = await eventually(published, within=60, what="the snapshot of the supply")
            assert proof is not None
            assert proof["wrbtc_outstanding_sats"] == supply_wrbtc
            assert proof["synced_sats"] == backed
            backed_gap = supply_rbtc - backed
            assert proof["unbacked_supply_sats"] == backed_gap > 0
            deficits = {d["name"]: d for d in proof["deficits"]}
            deficit = deficits["unbacked_supply_sats"]
            assert deficit["sats"] == backed_gap
            assert deficit["explanation"]
            # No BTC on any verified address in this world: the whole supply is unbacked by BTC.
            assert deficits["unbacked_by_btc_sats"]["sats"] == supply_rbtc
            assert (proof["fully_backed"], proof["status"]) == (False, "critical")
            assert proof["merkle"]["total_sats"] == supply_rbtc, "the vault backs wrBTC 1:1"
    finally:
        services.stop([API], prefix="apiholders")
