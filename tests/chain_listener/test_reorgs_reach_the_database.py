"""Reorgs on the private Hardhat node, through the real listener, Kafka and a db-writer process
into a database of its own; then that database against a replay of the topics and health's
two sides.

Before the fork the committee syncs 50k sats to bob (final). In the blocks the reorg orphans,
ghost (a new user) gets fees deposited and the committee burns bob's balance, which the
oracle also reports (an operation and bob's state): before the chain's block reaches Kafka,
after it, or never. Then `evm_revert` and a longer chain with another transaction (a deposit
for bob): in `instant` delivery, in `finalized` delivery with the reorg deeper than the
confirmations (the listener heals itself with the same notice), and with the writer killed
while the reorg is published.
"""

from __future__ import annotations

import asyncio
import secrets
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg
import pytest
from aiokafka import TopicPartition
from db_writer import retention
from db_writer.checksum import combined, database_checksum
from db_writer.config import SOURCE_TOPICS
from db_writer.replay import REPLAY_GROUP
from devstack import services
from health_monitor.database import DatabaseReader
from health_monitor.world.chain_scan import world_events
from health_monitor.world.rpc import ChainReader
from pydantic import SecretStr
from reservesync import identity, kafka, ledger
from reservesync.contracts import SystemContract
from reservesync.crypto import FieldCipher
from reservesync.event_decoding import EventDecoder
from reservesync.messages import (
    KnownEmergencyBurn,
    OperationStatus,
    OracleAction,
    OracleOperation,
    OracleUserState,
)
from reservesync.settings import EncryptionSettings, KafkaSettings
from reservesync.topics import ORACLE_OPERATIONS, ORACLE_STATE
from web3.types import TxReceipt

from tests.chain_listener.support import listener_harness as harness
from tests.chain_listener.support.chains import PrivateChain, hash_hex
from tests.support.databases import FreshDatabase, fresh_database, offsets_written
from tests.support.messages import publish
from tests.support.stack import Endpoints
from tests.support.topics import records_from
from tests.support.waiting import eventually, while_progressing

BOB_SATS = 50_000


@dataclass(frozen=True)
class Case:
    delivery: str
    oracle: str  # "first", "after_chain" or "none"
    writer_killed: bool = False


CASES = {
    "instant-oracle-first": Case("instant", "first"),
    "instant-chain-first-writer-killed": Case("instant", "after_chain", writer_killed=True),
    "finalized-deeper-than-confirmations-chain-only": Case("finalized", "none"),
}


@pytest.fixture(name="live")
def _live(endpoints: Endpoints) -> Iterator[FreshDatabase]:
    with fresh_database(endpoints) as fresh:
        yield fresh


@pytest.fixture(name="replayed")
def _replayed(endpoints: Endpoints) -> Iterator[FreshDatabase]:
    with fresh_database(endpoints) as fresh:
        yield fresh


class Writer:
    """A db-writer process of the test's own, on the test's database."""

    def __init__(self, endpoints: Endpoints, database: FreshDatabase) -> None:
        self.endpoints = endpoints
        self.database = database
        self.group = f"rbtc-db-writer-reorg-{secrets.token_hex(3)}"
        self.prefix = f"reorgdb{secrets.token_hex(2)}"

    def start(self) -> None:
        services.start(
            ["db-writer"],
            {"DATABASE_URL": self.database.writer_url, "WRITER_GROUP_ID": self.group},
            stack=self.endpoints.env(),
            prefix=self.prefix,
        )

    def kill(self) -> None:
        services.kill("db-writer", prefix=self.prefix)

    def stop(self) -> None:
        services.stop(["db-writer"], prefix=self.prefix)


def oracle_reports(bob: str, burn: TxReceipt, at: datetime) -> list[tuple[str, bytes, bytes]]:
    tx = hash_hex(burn["transactionHash"])
    known = KnownEmergencyBurn(
        burned_sats=BOB_SATS,
        reason="Committee emergency burn",
        tx_hash=tx,
        block_number=burn["blockNumber"],
        occurred_at=at,
    )
    operation = OracleOperation(
        operation_id=f"op-burn-{tx}",
        action=OracleAction.EMERGENCY_BURN,
        user_address=bob,
        amount_sats=BOB_SATS,
        tx_hash=tx,
        block_number=burn["blockNumber"],
        reason="Committee emergency burn",
        consensus_reached=True,
        status=OperationStatus.SUCCESS,
        occurred_at=at,
        oracle_id="oracle-1",
    )
    state = OracleUserState(
        user_address=bob,
        bitcoin_addresses=[],
        last_synced_sats=0,
        last_sync_at=at,
        registered_at=at,
        operations_performed=2,
        emergency_burns=[known],
        as_of=at,
    )
    key = bob.encode()
    return [
        (ORACLE_OPERATIONS.name, key, operation.to_json()),
        (ORACLE_STATE.name, key, state.to_json()),
    ]


async def start_both_at_the_end(
    endpoints: Endpoints, writer: Writer, replayed: FreshDatabase
) -> None:
    """The writer and the replay both start where the source topics end now (offsets stored in
    their databases, where each resumes from), so they read the same records: this test's,
    not everything earlier tests published."""
    consumer = kafka.consumer(
        KafkaSettings(kafka_bootstrap_servers=endpoints.kafka_bootstrap_servers), group_id=None
    )
    await consumer.start()
    try:
        partitions = [
            TopicPartition(t.name, p) for t in SOURCE_TOPICS.values() for p in range(t.partitions)
        ]
        ends = await consumer.end_offsets(partitions)
    finally:
        await consumer.stop()
    for url, group in (
        (writer.database.migrator_url, writer.group),
        (replayed.migrator_url, REPLAY_GROUP),
    ):
        db = await asyncpg.connect(url)
        try:
            await db.executemany(
                "INSERT INTO sink_offsets (consumer_group, topic, partition, next_offset) "
                "VALUES ($1, $2, $3, $4)",
                [(group, tp.topic, tp.partition, ends[tp]) for tp in partitions],
            )
        finally:
            await db.close()


async def stored_all(db: asyncpg.Connection, endpoints: Endpoints) -> bool:
    """The database holds every record of every source topic published so far."""
    stored = {
        (r["topic"], r["partition"]): int(r["next_offset"])
        for r in await db.fetch("SELECT topic, partition, next_offset FROM sink_offsets")
    }
    every = {
        (t.name, p): stored.get((t.name, p), 0)
        for t in SOURCE_TOPICS.values()
        for p in range(t.partitions)
    }
    return await records_from(endpoints.kafka_bootstrap_servers, every) == 0


class Story:
    """One case's chain, listener, writer and database, told in the order of the docstring."""

    def __init__(
        self, endpoints: Endpoints, private: PrivateChain, live: FreshDatabase, case: Case
    ) -> None:
        self.endpoints, self.private, self.case = endpoints, private, case
        self.protocol = private.protocol
        self.bob_account, self.ghost_account = self.protocol.new_user(), self.protocol.new_user()
        self.bob, self.ghost = self.bob_account.lower(), self.ghost_account.lower()
        self.confirmations = 3 if case.delivery == "instant" else 2
        self.settings = harness.listener_settings(
            endpoints.kafka_bootstrap_servers,
            private.rpc_url,
            private.deployment,
            transactional_id=harness.unique_id("reorg-db"),
            start_block=private.head() + 1,
            chain_delivery=case.delivery,
            chain_confirmations=self.confirmations,
        )
        self.writer = Writer(endpoints, live)
        self.burn_key = ""

    def orphaned_burn(self) -> tuple[str, TxReceipt, datetime]:
        """Bob's final sync; then, after the snapshot returned, ghost's deposit and the burn."""
        self.protocol.deposit_fees(self.bob_account, 10**16)
        self.protocol.sync(self.bob_account, BOB_SATS)
        self.private.mine(self.confirmations)
        snapshot = self.private.snapshot()
        self.protocol.deposit_fees(self.ghost_account, 10**15)
        burn = self.protocol.transact(
            SystemContract.ORACLE_AGGREGATOR,
            "executeEmergencyBurn",
            self.bob_account,
            sender=self.protocol.committee,
        )
        if self.case.delivery != "instant":
            self.private.mine(self.confirmations)  # final: published, so the reorg is deeper
        block = self.private.w3.eth.get_block(burn["blockNumber"])
        at = datetime.fromtimestamp(block["timestamp"], UTC)
        self.burn_key = identity.burn_key(self.bob, hash_hex(burn["transactionHash"]), BOB_SATS, at)
        return snapshot, burn, at

    async def until(self, db: asyncpg.Connection, column: str, what: str) -> None:
        await eventually(
            lambda: db.fetchval(
                f"SELECT {column} FROM emergency_burns WHERE burn_key = $1", self.burn_key
            ),
            within=120,
            what=what,
        )

    async def oracle_reports(self, db: asyncpg.Connection, burn: TxReceipt, at: datetime) -> None:
        for topic, key, value in oracle_reports(self.bob, burn, at):
            await publish(self.endpoints.kafka_bootstrap_servers, topic, [(key, value)])
        await self.until(db, "reported_by_oracle", "the oracle's report of the burn")

    async def reorganised(self, db: asyncpg.Connection) -> TxReceipt:
        """Everything up to the replacement published and the writer caught up."""
        snapshot, burn, at = self.orphaned_burn()
        if self.case.oracle == "first":
            await self.oracle_reports(db, burn, at)
        async with harness.running(self.settings) as listener:
            await harness.published_through(self.settings, burn["blockNumber"], listener=listener)
            await self.until(db, "seen_on_chain", "the chain's burn in the database")
            if self.case.oracle == "after_chain":
                await self.oracle_reports(db, burn, at)
            assert await db.fetchval("SELECT count(*) FROM users WHERE address = $1", self.ghost)
            if self.case.writer_killed:
                self.writer.kill()
            self.private.revert(snapshot)
            replacement = self.protocol.deposit_fees(self.bob_account, 2 * 10**15)
            self.private.mine(self.confirmations + 2)  # the new chain is the longer one
            await harness.published_block(self.settings, hash_hex(replacement["blockHash"]))
        if self.case.writer_killed:
            self.writer.start()  # resumes from the offsets stored in its database
        await while_progressing(
            lambda: stored_all(db, self.endpoints),
            lambda: offsets_written(db),
            what="the writer caught up",
        )
        return replacement


@pytest.mark.timeout(1800)
@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
async def test_the_database_after_a_reorg_equals_a_replay_and_holds_no_orphaned_evidence(
    endpoints: Endpoints,
    private: PrivateChain,
    live: FreshDatabase,
    replayed: FreshDatabase,
    case: Case,
) -> None:
    story = Story(endpoints, private, live, case)
    await start_both_at_the_end(endpoints, story.writer, replayed)
    db = await asyncpg.connect(live.migrator_url)
    story.writer.start()
    try:
        replacement = await story.reorganised(db)
        await _rows_hold_no_orphaned_evidence(
            db,
            case,
            bob=story.bob,
            ghost=story.ghost,
            burn_key=story.burn_key,
            replacement=replacement,
        )
        await _equals_a_replay(endpoints, live, replayed)
        await _health_agrees(
            endpoints,
            live,
            private,
            bob=story.bob,
            ghost=story.ghost,
            burn_key=story.burn_key,
            case=case,
        )
    finally:
        story.writer.stop()
        await db.close()


async def _rows_hold_no_orphaned_evidence(
    db: asyncpg.Connection,
    case: Case,
    *,
    bob: str,
    ghost: str,
    burn_key: str,
    replacement: TxReceipt,
) -> None:
    assert await db.fetchval("SELECT count(*) FROM users WHERE address = $1", ghost) == 0
    assert (
        await db.fetchval("SELECT count(*) FROM user_current_state WHERE user_address = $1", ghost)
        == 0
    )
    assert (
        await db.fetchval("SELECT count(*) FROM transactions WHERE user_address = $1", ghost) == 0
    )
    state = await db.fetchrow("SELECT * FROM user_current_state WHERE user_address = $1", bob)
    assert (state["seen_on_chain"], state["known_to_oracle"], state["balance_sats"]) == (
        True,
        case.oracle != "none",
        BOB_SATS,
    )
    orphaned_tx, _ = burn_key.split(":")
    moved = await db.fetch(
        "SELECT tx_hash, tx_type FROM transactions WHERE user_address = $1 AND tx_hash = ANY($2)",
        bob,
        [orphaned_tx, hash_hex(replacement["transactionHash"])],
    )
    assert [(m["tx_hash"], m["tx_type"]) for m in moved] == [
        (hash_hex(replacement["transactionHash"]), "DEPOSIT")
    ]
    burn = await db.fetchrow("SELECT * FROM emergency_burns WHERE burn_key = $1", burn_key)
    if case.oracle == "none":
        assert burn is None
    else:
        assert (burn["seen_on_chain"], burn["reported_by_oracle"], burn["block_hash"]) == (
            False,
            True,
            None,
        )
    for table in ("users", "emergency_burns", "transactions", "balance_history"):
        rows, counted = await db.fetchrow(
            f"SELECT (SELECT count(*) FROM {table}), (SELECT coalesce(sum(row_count), 0) "
            "FROM sink_counters WHERE table_name = $1)",
            table,
        )
        assert rows == counted, f"{table}: the counters say {counted}, the table holds {rows}"


async def _equals_a_replay(
    endpoints: Endpoints, live: FreshDatabase, replayed: FreshDatabase
) -> None:
    env = {**endpoints.env(), "DATABASE_URL": live.writer_url}
    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "db_writer.replay", "--database-url", replayed.writer_url],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    # A replay ends with the retention cut-off; the live writer applies it on a schedule.
    pool = await asyncpg.create_pool(live.writer_url, min_size=1, max_size=1)
    try:
        await retention.apply(pool)
    finally:
        await pool.close()
    cipher = FieldCipher.from_settings(
        EncryptionSettings(field_encryption_key=SecretStr(endpoints.field_encryption_key))
    )
    live_sum = await database_checksum(live.migrator_url, cipher)
    replayed_sum = await database_checksum(replayed.migrator_url, cipher)
    assert replayed_sum == live_sum
    assert combined(replayed_sum) == combined(live_sum)


async def _chain_world(private: PrivateChain) -> tuple[set[str], set[str]]:
    """Users and on-chain burn keys of the chain's canonical logs, by the ledger's rules: what
    health's chain scan folds into its world."""
    reader = ChainReader(private.rpc_url)
    decoder = EventDecoder(private.deployment.chain_id, private.deployment.contracts)
    first = min(c.deployed_block for c in private.deployment.contracts.values())
    logs = await reader.logs(first, await reader.head(), decoder.addresses)
    headers = await reader.headers(sorted({entry.block_number for entry in logs}))
    timestamps = {number: header.timestamp for number, header in headers.items()}
    events = world_events(decoder, logs, timestamps)
    users = {user for event in events if (user := ledger.event_user(event)) is not None}
    burns = {key for event in events if (key := ledger.chain_burn_key(event)) is not None}
    return users, burns


async def _health_agrees(
    endpoints: Endpoints,
    live: FreshDatabase,
    private: PrivateChain,
    *,
    bob: str,
    ghost: str,
    burn_key: str,
    case: Case,
) -> None:
    """Health's source side (the chain's canonical logs, read as health reads them) and its
    database side (the digests the triggers keep) after the reorg."""
    users, burns = await _chain_world(private)
    assert ghost not in users
    assert bob in users
    assert burn_key not in burns, "the burn's block was orphaned"
    reader = await DatabaseReader.connect(live.health_url, 1)
    try:
        rows = (await reader.read(private.deployment.chain_id)).rows
    finally:
        await reader.close()
    db = await asyncpg.connect(live.migrator_url)
    try:
        counts = await db.fetchrow(
            "SELECT (SELECT count(*) FROM users) AS users, "
            "(SELECT count(*) FROM emergency_burns) AS burns"
        )
    finally:
        await db.close()
    assert (rows["users"], rows["emergency_burns"]) == (counts["users"], counts["burns"])
