"""Postgres side of the writer: bulk UNNEST inserts, counters and offsets in one transaction."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import asyncpg

from db_writer.mapping import Rows


@dataclass(frozen=True)
class TableSpec:
    name: str
    columns: tuple[tuple[str, str], ...]  # (column, postgres type)
    conflict: str

    def insert_sql(self) -> str:
        names = ", ".join(c for c, _ in self.columns)
        arrays = ", ".join(f"${i}::{t}[]" for i, (_, t) in enumerate(self.columns, start=1))
        # Built from the constant specs below, never from input.
        return (
            f"INSERT INTO {self.name} ({names}) SELECT * FROM unnest({arrays}) "  # noqa: S608
            f"ON CONFLICT {self.conflict} DO NOTHING RETURNING src_topic, src_partition"
        )

    def arrays(self, rows: Sequence[dict[str, Any]]) -> list[list[Any]]:
        return [[_pg(row[column], kind) for row in rows] for column, kind in self.columns]


def _pg(value: Any, kind: str) -> Any:
    if kind == "numeric" and value is not None:
        return Decimal(value)
    return value


PROVENANCE = (("src_topic", "text"), ("src_partition", "int"), ("src_offset", "bigint"))

USERS = TableSpec(
    "users",
    (
        ("address", "text"),
        ("first_seen_source", "text"),
        ("first_seen_block", "bigint"),
        ("first_seen_at", "timestamptz"),
        *PROVENANCE,
    ),
    "(address)",
)
TRANSACTIONS = TableSpec(
    "transactions",
    (
        ("chain_id", "bigint"),
        ("tx_hash", "text"),
        ("log_index", "int"),
        ("block_number", "bigint"),
        ("block_hash", "text"),
        ("block_timestamp", "timestamptz"),
        ("user_address", "text"),
        ("tx_type", "text"),
        ("amount", "numeric"),
        ("unit", "text"),
        ("balance_after_sats", "bigint"),
        ("fee_wei", "numeric"),
        ("contract", "text"),
        ("event", "text"),
        *PROVENANCE,
    ),
    "(chain_id, tx_hash, log_index)",
)

Offsets = dict[tuple[str, int], int]
"""(topic, partition) -> the next offset to consume."""


class SinkStore:
    def __init__(self, pool: asyncpg.Pool, consumer_group: str) -> None:
        self.pool = pool
        self.group = consumer_group

    @classmethod
    async def connect(cls, dsn: str, consumer_group: str, size: int) -> SinkStore:
        pool = await asyncpg.create_pool(dsn, min_size=1, max_size=size)
        return cls(pool, consumer_group)

    async def close(self) -> None:
        await self.pool.close()

    async def stored_offsets(self, partitions: Iterable[tuple[str, int]]) -> Offsets:
        wanted = list(partitions)
        records = await self.pool.fetch(
            "SELECT topic, partition, next_offset FROM sink_offsets "
            "WHERE consumer_group = $1 AND (topic, partition) IN "
            "(SELECT * FROM unnest($2::text[], $3::int[]))",
            self.group,
            [t for t, _ in wanted],
            [p for _, p in wanted],
        )
        return {(r["topic"], r["partition"]): r["next_offset"] for r in records}

    async def write(self, rows: Rows, offsets: Offsets) -> int:
        """Insert the rows (idempotently), bump counters by what was new, store the offsets.

        Returns the number of rows inserted. All of it commits or none of it does.
        """
        async with self.pool.acquire() as connection, connection.transaction():
            inserted: Counter[tuple[str, str, int]] = Counter()
            for spec, table_rows in ((USERS, rows.users), (TRANSACTIONS, rows.transactions)):
                if not table_rows:
                    continue
                for record in await connection.fetch(spec.insert_sql(), *spec.arrays(table_rows)):
                    inserted[(spec.name, record["src_topic"], record["src_partition"])] += 1
            if inserted:
                keys = list(inserted)
                await connection.execute(
                    "INSERT INTO sink_counters (table_name, src_topic, src_partition, row_count) "
                    "SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::bigint[]) "
                    "ON CONFLICT (table_name, src_topic, src_partition) "
                    "DO UPDATE SET row_count = sink_counters.row_count + excluded.row_count",
                    [k[0] for k in keys],
                    [k[1] for k in keys],
                    [k[2] for k in keys],
                    [inserted[k] for k in keys],
                )
            await self._store_offsets(connection, offsets)
            return sum(inserted.values())

    async def remove_orphaned(
        self, topic: str, partition: int, block_hashes: Sequence[str], offsets: Offsets
    ) -> int:
        """Apply a reorg notice for one partition: its rows from orphaned blocks go, counters
        follow, and the notice's offset is stored, all in one transaction."""
        async with self.pool.acquire() as connection, connection.transaction():
            deleted = await connection.fetch(
                "DELETE FROM transactions WHERE src_topic = $1 AND src_partition = $2 "
                "AND block_hash = ANY($3::text[]) RETURNING id",
                topic,
                partition,
                list(block_hashes),
            )
            if deleted:
                await connection.execute(
                    "UPDATE sink_counters SET row_count = row_count - $3 "
                    "WHERE table_name = 'transactions' AND src_topic = $1 AND src_partition = $2",
                    topic,
                    partition,
                    len(deleted),
                )
            await self._store_offsets(connection, offsets)
            return len(deleted)

    async def _store_offsets(self, connection: asyncpg.Connection, offsets: Offsets) -> None:
        # GREATEST: a writer that lost its partition mid-batch can never move it backwards.
        await connection.execute(
            "INSERT INTO sink_offsets (consumer_group, topic, partition, next_offset) "
            "SELECT $1, * FROM unnest($2::text[], $3::int[], $4::bigint[]) "
            "ON CONFLICT (consumer_group, topic, partition) DO UPDATE SET "
            "next_offset = GREATEST(sink_offsets.next_offset, excluded.next_offset), "
            "updated_at = now()",
            self.group,
            [t for t, _ in offsets],
            [p for _, p in offsets],
            list(offsets.values()),
        )
