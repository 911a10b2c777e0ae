"""The digests of `reservesync.digests`: the database's side, kept by the triggers of
migration 0009 on real rows, equals the Python side computed from the same contents, and moves
with every insert, update, delete and truncate, whoever makes them."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import UTC, datetime

import asyncpg
import pytest
from reservesync import digests
from reservesync.digests import Digest, Item

from tests.support.databases import FreshDatabase, fresh_database
from tests.support.stack import Endpoints


@pytest.fixture(scope="module")
def database(endpoints: Endpoints) -> Iterator[FreshDatabase]:
    with fresh_database(endpoints) as fresh:
        yield fresh


def _address() -> str:
    return "0x" + secrets.token_hex(20)


def _hash() -> str:
    return "0x" + secrets.token_hex(32)


PROVENANCE = "'test', 0, 0"


async def _digests(connection: asyncpg.Connection, table: str) -> dict[int, Digest]:
    rows = await connection.fetch(
        "SELECT bucket, n, total FROM health_db_digests WHERE tbl = $1 AND n <> 0", table
    )
    return {r["bucket"]: Digest(r["n"], int(r["total"])) for r in rows}


def _expected(items: list[Item]) -> dict[int, Digest]:
    found: dict[int, Digest] = {}
    for item in items:
        found.setdefault(item.bucket, Digest()).add(item.hash)
    return found


async def test_sql_and_python_agree_and_follow_every_change(database: FreshDatabase) -> None:
    connection = await asyncpg.connect(database.migrator_url)
    try:
        user, other = _address(), _address()
        tx = _hash()
        now = datetime.now(UTC)
        await connection.execute(
            f"INSERT INTO users (address, first_seen_source, first_seen_at, src_topic, "
            f"src_partition, src_offset) VALUES ($1, 'chain', $3, {PROVENANCE}), "
            f"($2, 'oracle', $3, {PROVENANCE})",
            user,
            other,
            now,
        )
        await connection.execute(
            "INSERT INTO transactions (chain_id, tx_hash, log_index, block_number, block_hash, "
            "block_timestamp, user_address, tx_type, amount, unit, contract, event, src_topic, "
            "src_partition, src_offset) VALUES "
            f"(31337, $1, 0, 1234, $2, $3, $4, 'MINT', 12345678901234567890, 'sats', "
            f"'OracleAggregator', 'Synced', {PROVENANCE}), "
            f"(31337, $1, 1, 2500, $2, $3, $4, 'DEPOSIT', 7, 'wei', 'FeeVault', 'Deposited', "
            f"{PROVENANCE})",
            tx,
            _hash(),
            now,
            user,
        )
        await connection.execute(
            "INSERT INTO emergency_burns (burn_key, user_address, burned_sats, reason, "
            f"occurred_at, src_topic, src_partition, src_offset) VALUES ($1, $2, 130000, "
            f"'Insufficient fees', $3, {PROVENANCE})",
            f"{tx}:{user}",
            user,
            now,
        )
        await connection.execute(
            "INSERT INTO oracle_operations_log (operation_id, action, user_address, amount_sats, "
            "consensus_reached, sources_used, status, occurred_at, oracle_id, src_topic, "
            f"src_partition, src_offset) VALUES ('op-1', 'MINT', $1, 80000, true, "
            f"ARRAY['x'], 'success', $2, 'oracle-1', {PROVENANCE}), ('op-2', "
            f"'USER_REGISTERED', $1, NULL, true, ARRAY['x'], 'success', $2, 'oracle-1', "
            f"{PROVENANCE})",
            user,
            now,
        )
        event_id = f"31337:{tx}"
        transactions = [
            Item(
                "transactions",
                f"{event_id}:0",
                f"{event_id}:0|MINT|{user}|12345678901234567890|1234",
                1,
            ),
            Item("transactions", f"{event_id}:1", f"{event_id}:1|DEPOSIT|{user}|7|2500", 2),
        ]
        assert await _digests(connection, "transactions") == _expected(transactions)
        assert await _digests(connection, "users") == _expected(
            [digests.user_item(user), digests.user_item(other)]
        )
        burn = digests.burn_item(f"{tx}:{user}", user, 130_000)
        assert await _digests(connection, "emergency_burns") == _expected([burn])
        operations = await _digests(connection, "oracle_operations_log")
        assert sum(d.n for d in operations.values()) == 2

        # +1 sat by hand moves the burn's digest; putting it back restores it.
        await connection.execute("UPDATE emergency_burns SET burned_sats = burned_sats + 1")
        altered = digests.burn_item(f"{tx}:{user}", user, 130_001)
        assert await _digests(connection, "emergency_burns") == _expected([altered])
        await connection.execute("UPDATE emergency_burns SET burned_sats = burned_sats - 1")
        assert await _digests(connection, "emergency_burns") == _expected([burn])
        # A deletion takes the item back out.
        await connection.execute("DELETE FROM users WHERE address = $1", other)
        assert await _digests(connection, "users") == _expected([digests.user_item(user)])
        await connection.execute("TRUNCATE transactions")
        assert await _digests(connection, "transactions") == {}
    finally:
        await connection.close()


async def test_the_health_role_reads_the_digests_and_writes_only_its_own(
    database: FreshDatabase,
) -> None:
    connection = await asyncpg.connect(database.health_url)
    try:
        await connection.fetch("SELECT * FROM health_db_digests")
        await connection.execute(
            "INSERT INTO health_world_users (address, in_oracle) VALUES ($1, true)", _address()
        )
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await connection.execute("UPDATE health_db_digests SET n = 0")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await connection.execute("DELETE FROM users")
        world = await connection.fetchval(
            "SELECT sum(n) FROM health_world_digests WHERE tbl = 'users'"
        )
        assert world == 1
    finally:
        await connection.close()
