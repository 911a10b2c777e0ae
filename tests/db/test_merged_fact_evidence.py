"""Migration 0006 on a database that already holds merged rows: each is split into the
evidence of the sources that knew it, and recomputing from that evidence changes nothing."""

from __future__ import annotations

import asyncio

import asyncpg
from db_writer.merged import EMERGENCY_BURNS, USERS
from reservesync.db.migrate import downgrade, upgrade

from tests.support.databases import fresh_database, table_checksums
from tests.support.messages import T0, random_hash
from tests.support.stack import Endpoints

CHAIN, ORACLE = "rbtc.chain.events.v1", "rbtc.oracle.state.v1"
BOTH, CHAIN_ONLY, ORACLE_ONLY = ("0x" + c * 40 for c in "abc")

USERS_BEFORE = """
INSERT INTO users (address, first_seen_source, first_seen_block, first_seen_at, seen_on_chain,
    known_to_oracle, src_topic, src_partition, src_offset) VALUES
($1, 'chain', 100, $4, true, true, $5, 1, 7),
($2, 'chain', 101, $4, true, false, $5, 2, 3),
($3, 'oracle', NULL, $4, false, true, $6, 4, 0)
"""
BURNS_BEFORE = """
INSERT INTO emergency_burns (burn_key, user_address, burned_sats, reason, tx_hash, block_number,
    block_hash, occurred_at, seen_on_chain, reported_by_oracle, src_topic, src_partition,
    src_offset) VALUES
($1 || ':' || $2, $2, 90000, 'Insufficient fees', $1, 100, $3, $4, true, true, $5, 1, 8)
"""


async def _fill(url: str) -> tuple[str, str]:
    db = await asyncpg.connect(url)
    try:
        await db.execute(USERS_BEFORE, BOTH, CHAIN_ONLY, ORACLE_ONLY, T0, CHAIN, ORACLE)
        tx, block_hash = random_hash(), random_hash()
        await db.execute(BURNS_BEFORE, tx, BOTH, block_hash, T0, CHAIN)
        return f"{tx}:{BOTH}", block_hash
    finally:
        await db.close()


async def _recompute(url: str, burn_key: str) -> None:
    db = await asyncpg.connect(url)
    try:
        async with db.transaction():
            assert not await USERS.recompute(db, [BOTH, CHAIN_ONLY, ORACLE_ONLY])
            assert not await EMERGENCY_BURNS.recompute(db, [burn_key])
    finally:
        await db.close()


async def _evidence(url: str) -> list[tuple[str, str]]:
    db = await asyncpg.connect(url)
    try:
        rows = await db.fetch(
            "SELECT address AS key, source FROM user_evidence UNION ALL "
            "SELECT 'burn', source FROM emergency_burn_evidence ORDER BY 1, 2"
        )
    finally:
        await db.close()
    return [(r["key"], r["source"]) for r in rows]


def test_existing_rows_become_evidence_that_rebuilds_them(endpoints: Endpoints) -> None:
    with fresh_database(endpoints) as fresh:
        downgrade(fresh.migrator_url, "0004")
        burn_key, _ = asyncio.run(_fill(fresh.migrator_url))
        upgrade(fresh.migrator_url)
        assert asyncio.run(_evidence(fresh.migrator_url)) == [
            (BOTH, "chain"),
            (BOTH, "oracle"),
            (CHAIN_ONLY, "chain"),
            (ORACLE_ONLY, "oracle"),
            ("burn", "chain"),
            ("burn", "oracle"),
        ]
        before = asyncio.run(table_checksums(fresh.migrator_url))
        asyncio.run(_recompute(fresh.migrator_url, burn_key))
        after = asyncio.run(table_checksums(fresh.migrator_url))
        assert (after["users"], after["emergency_burns"]) == (
            before["users"],
            before["emergency_burns"],
        )
