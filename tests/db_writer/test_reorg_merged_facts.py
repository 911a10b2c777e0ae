"""Reorgs against merged facts, through the writer's mapping and store on real Postgres: every
interleaving of the chain's and the oracle's reports of one world, a reorg orphaning the
chain's part, and the database compared with replays in other interleavings and with one that
never saw the orphaned blocks.

| user  | before the fork | orphaned blocks (101, 102)         | oracle                     |
|-------|-----------------|------------------------------------|----------------------------|
| alice | nothing         | deposit (first seen on chain)      | state: a Bitcoin address   |
| bob   | mint 90k        | emergency burn of 90k (+ its sync) | the burn (operation+state) |
| carol | deposit         | dispute raised                     | dispute resolved           |
| dave  | joins the pool  | leaves the pool                    | nothing                    |
| ghost | nothing         | two deposits (first seen on chain) | nothing                    |

After the notice, block 101 is mined again with another transaction: a deposit of bob.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta

import asyncpg
import pytest
from db_writer.checksum import combined, database_checksum
from db_writer.mapping import Source, rows_for
from db_writer.storage import SinkStore
from devstack.deploy import DeploymentRecord
from health_monitor.database import DatabaseReader
from pydantic import SecretStr
from reservesync.contracts import SystemContract
from reservesync.crypto import FieldCipher
from reservesync.messages import (
    BlockRef,
    ChainReorg,
    KnownEmergencyBurn,
    Message,
    Network,
    OperationStatus,
    OracleAction,
    OracleOperation,
    OracleUserState,
    WatchedBitcoinAddress,
)
from reservesync.settings import EncryptionSettings
from reservesync.topics import CHAIN_EVENTS, ORACLE_OPERATIONS, ORACLE_STATE

from tests.support.databases import FreshDatabase, fresh_database
from tests.support.messages import T0, chain_event, random_hash, synced_args
from tests.support.stack import Endpoints

Step = tuple[str, int, Message]
FORK = 101


def _user() -> str:
    return "0x" + secrets.token_hex(20)


@dataclass
class ReorgWorld:
    """The world of the table above, as steps (topic, partition, message) per source."""

    deployment: DeploymentRecord
    alice: str = field(default_factory=_user)
    bob: str = field(default_factory=_user)
    carol: str = field(default_factory=_user)
    dave: str = field(default_factory=_user)
    ghost: str = field(default_factory=_user)
    burn_tx: str = field(default_factory=random_hash)
    hashes: dict[int, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.hashes = {100: random_hash(), 101: random_hash(), 102: random_hash()}
        self.replacement_hash = random_hash()
        # Users on partitions of their own, as the listener's keys put them.
        self.partition = {
            u: i for i, u in enumerate((self.alice, self.bob, self.carol, self.dave, self.ghost))
        }
        # Made once: every ordering below tells of the same transactions.
        self.before_fork = self._before_fork()
        self.orphaned = self._orphaned()
        self.replacement = [self._deposit(self.bob, 101, self.replacement_hash)]
        self.oracle = self._oracle()

    def _event(
        self,
        contract: SystemContract,
        name: str,
        args: dict[str, str | bool],
        block: int,
        *,
        block_hash: str | None = None,
        tx_hash: str | None = None,
        log_index: int = 0,
    ) -> Step:
        event = chain_event(
            self.deployment,
            contract,
            name,
            args,
            tx_hash=tx_hash,
            log_index=log_index,
            block_number=block,
            block_hash=block_hash or self.hashes[block],
            at=T0 + timedelta(minutes=block),
        )
        return (CHAIN_EVENTS.name, self.partition[str(args["user"])], event)

    def _deposit(self, user: str, block: int, block_hash: str | None = None) -> Step:
        args: dict[str, str | bool] = {"user": user, "amount": str(10**16)}
        return self._event(
            SystemContract.FEE_VAULT, "Deposited", args, block, block_hash=block_hash
        )

    def _before_fork(self) -> list[Step]:
        pool = SystemContract.YIELD_SCALES_POOL
        return [
            self._event(
                SystemContract.ORACLE_AGGREGATOR,
                "Synced",
                synced_args(self.bob, 90_000, 90_000, 10**15),
                100,
            ),
            self._deposit(self.carol, 100),
            self._event(
                pool,
                "ParticipantJoined",
                {"user": self.dave, "participantType": "0", "amount": "40000"},
                100,
            ),
        ]

    def _orphaned(self) -> list[Step]:
        aggregator, pool = SystemContract.ORACLE_AGGREGATOR, SystemContract.YIELD_SCALES_POOL
        burn: dict[str, str | bool] = {
            "user": self.bob,
            "burnedAmount": "90000",
            "reason": "Insufficient fees",
        }
        return [
            self._deposit(self.alice, 101),
            self._event(aggregator, "EmergencyBurn", burn, 101, tx_hash=self.burn_tx),
            self._event(
                aggregator,
                "Synced",
                synced_args(self.bob, 0, -90_000, 0),
                101,
                tx_hash=self.burn_tx,
                log_index=1,
            ),
            self._event(
                pool,
                "BalanceDisputed",
                {"user": self.carol, "reportedBalance": "5", "oracleBalance": "0"},
                101,
            ),
            self._deposit(self.ghost, 101),
            self._event(
                pool,
                "ParticipantLeft",
                {"user": self.dave, "participantType": "0", "amount": "40000"},
                102,
            ),
            self._deposit(self.ghost, 102),
        ]

    def notices(self) -> list[Step]:
        """The notice, on every partition of the chain topic."""
        notice = ChainReorg(
            chain_id=self.deployment.chain_id,
            fork_block=FORK,
            orphaned_block_hashes=[self.hashes[101], self.hashes[102]],
            new_head=BlockRef(number=FORK, hash=self.replacement_hash),
        )
        return [(CHAIN_EVENTS.name, p, notice) for p in range(CHAIN_EVENTS.partitions)]

    def _oracle(self) -> list[Step]:
        at = T0 + timedelta(minutes=101)
        burn = KnownEmergencyBurn(
            burned_sats=90_000,
            reason="Insufficient fees",
            tx_hash=self.burn_tx,
            block_number=101,
            occurred_at=at,
        )
        return [
            (
                ORACLE_OPERATIONS.name,
                1,
                OracleOperation(
                    operation_id=f"op-{self.burn_tx}",
                    action=OracleAction.EMERGENCY_BURN,
                    user_address=self.bob,
                    amount_sats=90_000,
                    tx_hash=self.burn_tx,
                    block_number=101,
                    reason="Insufficient fees",
                    consensus_reached=True,
                    status=OperationStatus.SUCCESS,
                    occurred_at=at,
                    oracle_id="oracle-1",
                ),
            ),
            (ORACLE_STATE.name, 1, self._state(self.bob, burns=[burn])),
            (
                ORACLE_STATE.name,
                0,
                self._state(self.alice, btc="tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx"),
            ),
            (
                ORACLE_OPERATIONS.name,
                2,
                OracleOperation(
                    operation_id=f"op-resolved-{self.carol}",
                    action=OracleAction.DISPUTE_RESOLVED,
                    user_address=self.carol,
                    amount_sats=0,
                    reason="the reported balance was stale",
                    consensus_reached=True,
                    status=OperationStatus.SUCCESS,
                    occurred_at=at + timedelta(minutes=5),
                    oracle_id="oracle-1",
                ),
            ),
        ]

    def _state(
        self, user: str, *, burns: list[KnownEmergencyBurn] | None = None, btc: str | None = None
    ) -> OracleUserState:
        return OracleUserState(
            user_address=user,
            bitcoin_addresses=[
                WatchedBitcoinAddress(
                    address=btc, network=Network.TESTNET, verified_at=T0, monitoring=True
                )
            ]
            if btc
            else [],
            last_synced_sats=0,
            last_sync_at=T0,
            registered_at=T0 + timedelta(minutes=150),
            operations_performed=1,
            emergency_burns=burns or [],
            as_of=T0 + timedelta(minutes=200),
        )


ORDERS = ("oracle_first", "chain_first", "chain_only")


def live_order(world: ReorgWorld, order: str) -> list[Step]:
    chain = world.before_fork + world.orphaned
    after = world.notices() + world.replacement
    if order == "oracle_first":
        return world.oracle + chain + after
    if order == "chain_first":
        return chain + world.oracle + after
    return chain + after


def canonical(world: ReorgWorld, order: str) -> list[Step]:
    """What a database that never saw the orphaned blocks was told."""
    oracle = [] if order == "chain_only" else world.oracle
    return oracle + world.before_fork + world.replacement


def by_topic(steps: list[Step], chain_first: bool) -> list[Step]:
    """A replay's interleaving: one topic after the other, each in its own order."""
    return sorted(steps, key=lambda s: (s[0] == CHAIN_EVENTS.name) != chain_first)


async def apply(url: str, steps: list[Step], cipher: FieldCipher) -> None:
    """Each step as the db-writer applies it: rows in one transaction with their offset, a
    reorg notice as a removal of its own."""
    store = await SinkStore.connect(url, "reorg-tests", 2)
    try:
        offsets: dict[tuple[str, int], int] = {}
        for topic, partition, message in steps:
            offset = offsets.get((topic, partition), 0)
            next_offsets = {(topic, partition): offset + 1}
            if isinstance(message, ChainReorg):
                await store.remove_orphaned(
                    topic, partition, message.orphaned_block_hashes, next_offsets
                )
            else:
                rows = rows_for(message, Source(topic, partition, offset), cipher)
                await store.write(rows, next_offsets)
            offsets[(topic, partition)] = offset + 1
    finally:
        await store.close()


WRITTEN = (
    "users, user_evidence, emergency_burns, emergency_burn_evidence, transactions, "
    "balance_history, balance_snapshots, balance_disputes, oracle_operations_log, "
    "oracle_user_states, bitcoin_addresses, yield_operations_log, yield_scales_participants, "
    "sink_offsets, sink_counters"
)


@pytest.fixture(name="database", scope="module")
def _database(endpoints: Endpoints) -> Iterator[FreshDatabase]:
    with fresh_database(endpoints) as fresh:
        yield fresh


async def written_by(
    fresh: FreshDatabase, steps: list[Step], cipher: FieldCipher
) -> dict[str, tuple[int, str]]:
    """The checksum of a database holding exactly what `steps` wrote, and its counters."""
    db = await asyncpg.connect(fresh.migrator_url)
    try:
        await db.execute(f"TRUNCATE {WRITTEN}")
    finally:
        await db.close()
    await apply(fresh.writer_url, steps, cipher)
    checksum = await database_checksum(fresh.migrator_url, cipher)
    db = await asyncpg.connect(fresh.migrator_url)
    try:
        # The counters too, per source partition (a removal leaves a row at zero behind).
        counters = await db.fetch(
            "SELECT table_name, src_topic, src_partition, row_count FROM sink_counters "
            "WHERE row_count > 0 ORDER BY 1, 2, 3"
        )
    finally:
        await db.close()
    checksum["<counters>"] = (len(counters), repr([tuple(c) for c in counters]))
    return checksum


def _tables(checksum: dict[str, tuple[int, str]]) -> dict[str, tuple[int, str]]:
    return {table: digest for table, digest in checksum.items() if table != "<counters>"}


@pytest.mark.parametrize("order", ORDERS)
async def test_a_reorg_takes_back_exactly_the_chains_part_of_merged_facts(
    endpoints: Endpoints, database: FreshDatabase, order: str
) -> None:
    cipher = FieldCipher.from_settings(
        EncryptionSettings(field_encryption_key=SecretStr(endpoints.field_encryption_key))
    )
    world = ReorgWorld(endpoints.deployment)
    steps = live_order(world, order)
    expected = await written_by(database, canonical(world, order), cipher)
    for chain_first in (True, False):
        replayed = await written_by(database, by_topic(steps, chain_first), cipher)
        assert replayed == expected, f"replay with the chain topic first: {chain_first}"
    live = await written_by(database, steps, cipher)
    assert live == expected
    # What `python -m db_writer.checksum` prints for each.
    assert combined(_tables(live)) == combined(_tables(expected))

    db = await asyncpg.connect(database.migrator_url)
    try:
        await _check_rows(db, world, order)
        counts = await db.fetchrow(
            "SELECT (SELECT count(*) FROM users) AS users, "
            "(SELECT count(*) FROM emergency_burns) AS burns"
        )
    finally:
        await db.close()
    # Health's database side: the digests the triggers keep count exactly the rows (its world
    # side, the chain's own logs, is tested against a real reorg in
    # chain_listener/test_reorgs_reach_the_database).
    reader = await DatabaseReader.connect(database.health_url, 1)
    try:
        rows = (await reader.read(world.deployment.chain_id)).rows
    finally:
        await reader.close()
    assert (rows["users"], rows["emergency_burns"]) == (counts["users"], counts["burns"])


async def _check_rows(db: asyncpg.Connection, world: ReorgWorld, order: str) -> None:
    oracle = order != "chain_only"
    users = {
        r["address"]: r
        for r in await db.fetch(
            "SELECT s.*, u.address, u.first_seen_source, u.first_seen_block "
            "FROM user_current_state s JOIN users u ON u.address = s.user_address"
        )
    }
    assert world.ghost not in users, "known only from orphaned blocks"
    assert (world.alice in users) == oracle
    if oracle:
        alice = users[world.alice]
        assert (alice["seen_on_chain"], alice["known_to_oracle"]) == (False, True)
        assert (alice["first_seen_source"], alice["bitcoin_addresses_monitored"]) == ("oracle", 1)
    bob = users[world.bob]
    assert (bob["seen_on_chain"], bob["first_seen_block"], bob["balance_sats"]) == (
        True,
        100,
        90_000,
    )
    burns = await db.fetch("SELECT * FROM emergency_burns")
    if oracle:
        (burn,) = burns
        assert (burn["seen_on_chain"], burn["reported_by_oracle"]) == (False, True)
        assert (burn["block_hash"], burn["block_number"], burn["tx_hash"]) == (
            None,
            101,
            world.burn_tx,
        )
    else:
        assert burns == []
    disputes = await db.fetch(
        "SELECT kind FROM balance_disputes WHERE user_address = $1", world.carol
    )
    assert [d["kind"] for d in disputes] == (["RESOLVED"] if oracle else [])
    dave = await db.fetchrow(
        "SELECT active, left_at FROM yield_scales_participants WHERE user_address = $1", world.dave
    )
    assert (dave["active"], dave["left_at"]) == (True, None)
    for table in ("users", "emergency_burns", "transactions", "balance_disputes"):
        rows, counted = await db.fetchrow(
            f"SELECT (SELECT count(*) FROM {table}), (SELECT coalesce(sum(row_count), 0) "
            "FROM sink_counters WHERE table_name = $1)",
            table,
        )
        assert rows == counted, f"{table}: the counters say {counted}, the table holds {rows}"
