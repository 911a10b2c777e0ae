"""The fence that keeps a record from being applied twice: each partition's next offset, stored in
`sink_offsets` by the transaction that applied the records before it, locked by the next one
(in a fixed order, so two writers cannot deadlock), and the rows below it skipped."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import asyncpg

from db_writer.mapping import Row

Offsets = dict[tuple[str, int], int]
"""(topic, partition) -> the next offset to consume."""
OFFSETS_QUERY = (
    "SELECT topic, partition, next_offset FROM sink_offsets WHERE consumer_group = $1 "
    "AND (topic, partition) IN (SELECT * FROM unnest($2::text[], $3::int[])) "
    "ORDER BY topic, partition"
)


def _columns(partitions: Iterable[tuple[str, int]]) -> tuple[list[str], list[int]]:
    """Topics and partition numbers as the two arrays the queries unnest side by side."""
    pairs = list(partitions)
    return [topic for topic, _ in pairs], [partition for _, partition in pairs]


async def fetch_offsets(
    connection: asyncpg.Connection, group: str, partitions: list[tuple[str, int]], *, lock: bool
) -> Offsets:
    # A fixed lock order, so two writers locking overlapping partitions cannot deadlock.
    query = OFFSETS_QUERY + (" FOR UPDATE" if lock else "")
    records = await connection.fetch(query, group, *_columns(partitions))
    return {(r["topic"], r["partition"]): r["next_offset"] for r in records}


async def lock_offsets(connection: asyncpg.Connection, group: str, offsets: Offsets) -> Offsets:
    """Lock the batch's partitions and return, per partition, the offset already applied
    up to. Locking makes a second writer that still believes it owns a partition (after a
    rebalance) wait, and then skip what the first one wrote."""
    await connection.execute(
        "INSERT INTO sink_offsets (consumer_group, topic, partition, next_offset) "
        "SELECT $1, * FROM unnest($2::text[], $3::int[], $4::bigint[]) "
        "ON CONFLICT DO NOTHING",
        group,
        *_columns(offsets),
        [0] * len(offsets),
    )
    return await fetch_offsets(connection, group, list(offsets), lock=True)


async def store_offsets(connection: asyncpg.Connection, group: str, offsets: Offsets) -> None:
    await connection.execute(
        "UPDATE sink_offsets AS s SET next_offset = GREATEST(s.next_offset, u.next_offset), "
        "updated_at = now() FROM unnest($2::text[], $3::int[], $4::bigint[]) "
        "AS u(topic, partition, next_offset) "
        "WHERE s.consumer_group = $1 AND s.topic = u.topic AND s.partition = u.partition",
        group,
        *_columns(offsets),
        list(offsets.values()),
    )


def replayed(applied: Offsets, firsts: Offsets | None) -> bool:
    """Whether rows of the batch may stand below the offsets already applied (a partition
    moved between writers, or the batch is written again after a failure)."""
    if firsts is None:
        return True
    return any(applied.get(key, 0) > first for key, first in firsts.items())


@dataclass(frozen=True)
class Unwritten:
    """Picks the rows of a batch that its transaction still has to write: not yet applied
    by an earlier transaction, and not of a record whose claim was made before."""

    applied: Offsets
    skipped: set[tuple[str, int, int]]
    replayed: bool

    def __call__(self, rows: list[Row]) -> list[Row]:
        if self.replayed:
            rows = [r for r in rows if _is_new(r, self.applied)]
        if self.skipped:
            rows = [r for r in rows if _coordinate(r) not in self.skipped]
        return rows


def already_applied(applied: Offsets, offsets: Offsets) -> bool:
    return all(applied.get(key, 0) >= next_offset for key, next_offset in offsets.items())


def _is_new(row: Row, applied: Offsets) -> bool:
    src_offset: int = row["src_offset"]
    return src_offset >= applied.get((row["src_topic"], row["src_partition"]), 0)


def is_new_record(coordinate: tuple[str, int, int], applied: Offsets) -> bool:
    topic, partition, offset = coordinate
    return offset >= applied.get((topic, partition), 0)


def _coordinate(row: Row) -> tuple[str, int, int]:
    return (row["src_topic"], row["src_partition"], row["src_offset"])
