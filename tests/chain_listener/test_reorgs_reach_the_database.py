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
from typing import TYPE_CHECKING

import asyncpg
import pytest
from db_writer.checksum import combined, database_checksum
from db_writer.config import SOURCE_TOPICS
from devstack import services
from health_monitor.database import DatabaseReader
from health_monitor.domain.tally import SourceTally
from pydantic import SecretStr
from reservesync import identity
from reservesync.contracts import SystemContract
from reservesync.crypto import FieldCipher
from reservesync.messages import (
    ChainEvent,
    ChainReorg,
    InvalidMessage,
    KnownEmergencyBurn,
    OperationStatus,
    OracleAction,
    OracleOperation,
    OracleUserState,
    decode,
)
from reservesync.settings import EncryptionSettings
from reservesync.topics import CHAIN_EVENTS, ORACLE_OPERATIONS, ORACLE_STATE
from support.databases import FreshDatabase, fresh_database
from support.messages import publish
from support.stack import Endpoints
from support.topics import read_all, records_from
from support.waiting import eventually
from web3.types import TxReceipt

if TYPE_CHECKING:  # see conftest.py
    from chain_listener import listener_harness as harness
    from chain_listener.chains import PrivateChain, hash_hex
else:
    import listener_harness as harness
    from chains import PrivateChain, hash_hex

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
        self.group = f"reorg-db-{secrets.token_hex(3)}"
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


@pytest.mark.timeout(900)
@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
async def test_the_database_after_a_reorg_equals_a_replay_and_holds_no_orphaned_evidence(
    endpoints: Endpoints,
    private: PrivateChain,
    live: FreshDatabase,
    replayed: FreshDatabase,
    case: Case,
) -> None:
    protocol = private.protocol
    bob_account, ghost_account = protocol.new_user(), protocol.new_user()
    bob, ghost = bob_account.lower(), ghost_account.lower()
    instant = case.delivery == "instant"
    confirmations = 3 if instant else 2
    settings = harness.listener_settings(
        endpoints.kafka_bootstrap_servers,
        private.rpc_url,
        private.deployment,
        transactional_id=harness.unique_id("reorg-db"),
        start_block=private.head() + 1,
        chain_delivery=case.delivery,
        chain_confirmations=confirmations,
    )
    writer = Writer(endpoints, live)
    db = await asyncpg.connect(live.migrator_url)
    writer.start()
    try:
        protocol.deposit_fees(bob_account, 10**16)
        protocol.sync(bob_account, BOB_SATS)
        private.mine(confirmations)
        snapshot = private.snapshot()
        protocol.deposit_fees(ghost_account, 10**15)
        burn = protocol.transact(
            SystemContract.ORACLE_AGGREGATOR,
            "executeEmergencyBurn",
            bob_account,
            sender=protocol.committee,
        )
        if not instant:
            private.mine(confirmations)  # final: published, so the reorg is deeper
        at = datetime.fromtimestamp(private.w3.eth.get_block(burn["blockNumber"])["timestamp"], UTC)
        burn_key = identity.burn_key(bob, hash_hex(burn["transactionHash"]), BOB_SATS, at)
        reports = oracle_reports(bob, burn, at)

        async def burn_row() -> asyncpg.Record | None:
            return await db.fetchrow("SELECT * FROM emergency_burns WHERE burn_key = $1", burn_key)

        async def oracle_published() -> None:
            for topic, key, value in reports:
                await publish(endpoints.kafka_bootstrap_servers, topic, [(key, value)])
            await eventually(
                lambda: db.fetchval(
                    "SELECT reported_by_oracle FROM emergency_burns WHERE burn_key = $1", burn_key
                ),
                within=120,
                what="the oracle's report of the burn in the database",
            )

        if case.oracle == "first":
            await oracle_published()
        async with harness.running(settings) as listener:
            await harness.published_through(settings, burn["blockNumber"], listener=listener)
            await eventually(
                lambda: db.fetchval(
                    "SELECT seen_on_chain FROM emergency_burns WHERE burn_key = $1", burn_key
                ),
                within=120,
                what="the chain's burn in the database",
            )
            if case.oracle == "after_chain":
                await oracle_published()
            assert await db.fetchval("SELECT count(*) FROM users WHERE address = $1", ghost) == 1
            if case.writer_killed:
                writer.kill()
            private.revert(snapshot)
            replacement = protocol.deposit_fees(bob_account, 2 * 10**15)
            private.mine(confirmations + 2)  # the new chain is the longer one
            await harness.published_block(settings, hash_hex(replacement["blockHash"]))
        if case.writer_killed:
            writer.start()  # resumes from the offsets stored in its database
        await eventually(lambda: stored_all(db, endpoints), within=300, what="the writer caught up")

        await _rows_hold_no_orphaned_evidence(
            db, case, bob=bob, ghost=ghost, burn_key=burn_key, replacement=replacement
        )
        row = await burn_row()
        assert (row is not None) == (case.oracle != "none")
        await _equals_a_replay(endpoints, live, replayed)
        await _health_agrees(
            endpoints, live, private, bob=bob, ghost=ghost, burn_key=burn_key, case=case
        )
    finally:
        writer.stop()
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
    cipher = FieldCipher.from_settings(
        EncryptionSettings(field_encryption_key=SecretStr(endpoints.field_encryption_key))
    )
    live_sum = await database_checksum(live.migrator_url, cipher)
    replayed_sum = await database_checksum(replayed.migrator_url, cipher)
    assert replayed_sum == live_sum
    assert combined(replayed_sum) == combined(live_sum)


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
    """Health's source side (its tally of the topics) and database side (the counters)."""
    tally = SourceTally()
    for topic in (CHAIN_EVENTS, ORACLE_OPERATIONS, ORACLE_STATE):
        for _, value, partition, _ in await read_all(endpoints.kafka_bootstrap_servers, topic.name):
            try:
                message = decode(value, topic.carries)
            except (InvalidMessage, ValueError):
                continue  # other tests' hostile records and tombstones
            if isinstance(message, ChainEvent):
                tally.chain_event(partition, message)
            elif isinstance(message, ChainReorg):
                tally.reorg(partition, message)
            elif isinstance(message, OracleOperation):
                tally.operation(message)
            elif isinstance(message, OracleUserState):
                tally.oracle_state(message)
    assert ghost not in tally.users
    assert bob in tally.users
    assert (burn_key in tally.burns) == (case.oracle != "none")
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
