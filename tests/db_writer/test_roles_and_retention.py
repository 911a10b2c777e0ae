"""Least privilege and row-level security for the service roles, and retention, on the real
database the writer fills."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from db_writer import retention
from devstack.protocol import Protocol
from reservesync.contracts import SystemContract
from reservesync.messages import OperationStatus, OracleAction, OracleOperation
from reservesync.topics import CHAIN_EVENTS, ORACLE_OPERATIONS

from tests.support.messages import chain_event, deposited, publish, random_hash
from tests.support.stack import Endpoints
from tests.support.waiting import eventually


async def _connect(endpoints: Endpoints, role: str) -> asyncpg.Connection:
    return await asyncpg.connect(endpoints.database_urls[role])


async def test_the_writer_cannot_run_ddl(endpoints: Endpoints) -> None:
    writer = await _connect(endpoints, "rs_writer")
    try:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await writer.execute("CREATE TABLE sneaky (id int)")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await writer.execute("DROP TABLE transactions")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await writer.execute("ALTER TABLE users DISABLE ROW LEVEL SECURITY")
    finally:
        await writer.close()


@pytest.mark.parametrize("role", ["rs_api", "rs_health"])
async def test_readers_cannot_write(endpoints: Endpoints, role: str) -> None:
    reader = await _connect(endpoints, role)
    try:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await reader.execute("DELETE FROM transactions")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await reader.execute("UPDATE sink_counters SET row_count = 0")
    finally:
        await reader.close()


async def test_the_api_reads_one_user_at_a_time_and_never_ciphertext(
    pipeline: Endpoints, db: asyncpg.Connection
) -> None:
    alice, bob = Protocol.new_user().lower(), Protocol.new_user().lower()
    await publish(
        pipeline.kafka_bootstrap_servers,
        CHAIN_EVENTS.name,
        [(u.encode(), deposited(pipeline.deployment, u, 10**15).to_json()) for u in (alice, bob)],
    )
    await eventually(
        lambda: db.fetchval(
            "SELECT count(*) = 2 FROM transactions WHERE user_address = ANY($1::text[])",
            [alice, bob],
        ),
        what="both users' rows",
    )
    api = await _connect(pipeline, "rs_api")
    try:
        async with api.transaction():
            # No user in the session: row-level security shows nothing.
            assert await api.fetchval("SELECT count(*) FROM transactions") == 0
        async with api.transaction():
            await api.execute("SELECT set_config('reservesync.user', $1, true)", alice)
            seen = await api.fetch("SELECT DISTINCT user_address FROM transactions")
            assert [r["user_address"] for r in seen] == [alice]
            assert (
                await api.fetchval(
                    "SELECT count(*) FROM user_current_state WHERE user_address = $1", bob
                )
                == 0
            )
        async with api.transaction():
            await api.execute("SELECT set_config('reservesync.user', '*', true)")
            assert (
                await api.fetchval(
                    "SELECT count(DISTINCT user_address) FROM transactions "
                    "WHERE user_address = ANY($1::text[])",
                    [alice, bob],
                )
                == 2
            )
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await api.fetch("SELECT address_ciphertext FROM bitcoin_addresses")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await api.fetch("SELECT bitcoin_address_ciphertext FROM oracle_operations_log")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await api.fetch("SELECT description_ciphertext FROM balance_disputes")
    finally:
        await api.close()


async def test_retention_cuts_old_snapshots_and_operations_but_not_counters(
    pipeline: Endpoints, db: asyncpg.Connection
) -> None:
    user = Protocol.new_user().lower()
    now = datetime.now(UTC)
    old_sync, new_sync = (
        chain_event(
            pipeline.deployment,
            SystemContract.ORACLE_AGGREGATOR,
            "Synced",
            {
                "user": user,
                "newBalanceSats": str(sats),
                "deltaSats": str(delta),
                "feeWei": "1000000000000000",
                "height": "1",
                "timestamp": "1",
            },
            at=at,
        )
        for sats, delta, at in (
            (1000, 1000, now - timedelta(days=91)),
            (1500, 500, now - timedelta(days=89)),
        )
    )
    old_op = OracleOperation(
        operation_id=f"op-{random_hash()[2:18]}",
        action=OracleAction.BALANCE_CHECK,
        user_address=user,
        consensus_reached=True,
        status=OperationStatus.SUCCESS,
        occurred_at=now - timedelta(days=366),
        oracle_id="oracle-1",
    )
    await publish(
        pipeline.kafka_bootstrap_servers,
        CHAIN_EVENTS.name,
        [(user.encode(), e.to_json()) for e in (old_sync, new_sync)],
    )
    await publish(
        pipeline.kafka_bootstrap_servers,
        ORACLE_OPERATIONS.name,
        [(user.encode(), old_op.to_json())],
    )
    await eventually(
        lambda: db.fetchval(
            "SELECT (SELECT count(*) FROM balance_snapshots WHERE user_address = $1) = 2 AND "
            "(SELECT count(*) FROM oracle_operations_log WHERE user_address = $1) = 1",
            user,
        ),
        what="the old and new rows",
    )
    counters = await db.fetchval("SELECT sum(row_count) FROM sink_counters")
    pool = await asyncpg.create_pool(pipeline.database_urls["rs_writer"], min_size=1, max_size=2)
    try:
        deleted = await retention.apply(pool)
    finally:
        await pool.close()
    assert deleted["balance_snapshots"] >= 1
    assert deleted["oracle_operations_log"] >= 1
    kept = await db.fetch(
        "SELECT balance_sats FROM balance_snapshots WHERE user_address = $1", user
    )
    assert [r["balance_sats"] for r in kept] == [1500]
    assert (
        await db.fetchval(
            "SELECT count(*) FROM oracle_operations_log WHERE user_address = $1", user
        )
        == 0
    )
    # History is permanent; counters count what was written, not what is still kept.
    assert (
        await db.fetchval("SELECT count(*) FROM balance_history WHERE user_address = $1", user) == 2
    )
    assert await db.fetchval("SELECT sum(row_count) FROM sink_counters") == counters
