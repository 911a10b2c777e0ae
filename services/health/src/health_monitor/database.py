"""The database side of the score, read in O(1) whatever the tables hold.

Row counts come from `health_db_digests`, which triggers keep in the same transaction as the
rows, whoever writes them (migration 0009), so a count is a sum over a few digest rows, never a
`count(*)` over millions, and a row added or deleted by hand counts. Everything is read in one
repeatable-read snapshot so the counts agree with each other.
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from health_monitor.domain.reserves import Attestation

COUNTED_TABLES = ("transactions", "users", "emergency_burns", "oracle_operations_log")
CONFLICTS = "conflicting_duplicates"
"""The db-writer's sink counter of records dead-lettered as conflicting duplicates."""
YIELD_TABLES = ("yield_scales_participants", "yield_operations_log")


@dataclass(frozen=True)
class RegisteredContract:
    name: str
    address: str
    code_present: bool
    """What the chain-listener saw when it registered the contract."""


@dataclass(frozen=True)
class DatabaseView:
    rows: dict[str, int]
    contracts: list[RegisteredContract]
    yield_tables: bool
    """Every YieldScales table is in place."""
    yield_participants: bool
    """At least one active YieldScales participant."""
    reserves: Attestation | None = None
    conflicting_duplicates: int = 0
    """Records the db-writer dead-lettered as conflicting duplicates, ever."""
    world_tx_types: dict[str, int] | None = None
    """Transaction-bearing events per type in the chain's logs, as health read them."""


class DatabaseReader:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    @classmethod
    async def connect(cls, dsn: str, size: int) -> DatabaseReader:
        return cls(await asyncpg.create_pool(dsn, min_size=1, max_size=size))

    async def close(self) -> None:
        await self.pool.close()

    async def read(self, chain_id: int) -> DatabaseView:
        async with (
            self.pool.acquire() as connection,
            connection.transaction(isolation="repeatable_read", readonly=True),
        ):
            counted = await connection.fetch(
                "SELECT tbl AS table_name, sum(n)::bigint AS n FROM health_db_digests "
                "WHERE tbl = ANY($1::text[]) GROUP BY tbl",
                list(COUNTED_TABLES),
            )
            conflicting = await connection.fetchval(
                "SELECT coalesce(sum(row_count), 0)::bigint FROM sink_counters "
                "WHERE table_name = $1",
                CONFLICTS,
            )
            types = await connection.fetch(
                "SELECT substr(tbl, 9) AS kind, sum(n)::bigint AS n FROM health_world_digests "
                "WHERE tbl LIKE 'tx\\_type:%' GROUP BY 1"
            )
            contracts = await connection.fetch(
                "SELECT name, address, code_present FROM system_contracts WHERE chain_id = $1 "
                "ORDER BY name",
                chain_id,
            )
            tables = await connection.fetchval(
                "SELECT bool_and(to_regclass('public.' || t) IS NOT NULL) "
                "FROM unnest($1::text[]) AS t",
                list(YIELD_TABLES),
            )
            participants = bool(tables) and await connection.fetchval(
                "SELECT EXISTS (SELECT 1 FROM yield_scales_participants WHERE active)"
            )
            newest = await connection.fetchrow(
                "SELECT total_rbtc_sats, total_btc_sats, as_of, "
                "coalesce(unbacked_supply_sats, 0) FROM proof_of_reserves "
                "ORDER BY id DESC LIMIT 1"
            )
        rows = dict.fromkeys(COUNTED_TABLES, 0)
        rows.update({r["table_name"]: int(r["n"]) for r in counted})
        return DatabaseView(
            rows=rows,
            contracts=[
                RegisteredContract(r["name"], r["address"], r["code_present"]) for r in contracts
            ],
            yield_tables=bool(tables),
            yield_participants=bool(participants),
            # numeric columns (migration 0005) come back as Decimal.
            reserves=(
                Attestation(int(newest[0]), int(newest[1]), newest[2], int(newest[3]))
                if newest
                else None
            ),
            conflicting_duplicates=int(conflicting),
            world_tx_types={r["kind"]: int(r["n"]) for r in types if r["n"]},
        )
