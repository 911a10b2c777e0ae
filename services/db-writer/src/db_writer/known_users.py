"""User evidence this writer knows is in the database, so it does not upsert it again and again.

Nearly every event names a user whose evidence already exists; upserting it again costs
Postgres a speculative insert per event for nothing. A row is skipped only when the database,
as far as this writer committed, already holds evidence of the same source partition no later
than it, i.e. when the upsert could not change anything (so results stay independent of order).

Evidence can also go (a reorg deletes the chain's evidence of orphaned blocks), so what this
cache believes is forgotten for a partition whose evidence was removed, and entirely whenever
partitions move between writers (another writer may have removed evidence meanwhile).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

from db_writer.mapping import Row

Key = tuple[str, str, str, int]  # (address, source, src_topic, src_partition)


def sighting(row: Row) -> tuple[Any, ...]:
    """How early one piece of evidence saw its user: the lowest block on chain, else the
    earliest time (evidence is compared only within one source)."""
    block = row["first_seen_block"]
    return (-1 if block is None else block, row["first_seen_at"])


def key_of(row: Row) -> Key:
    return (row["address"], row["source"], row["src_topic"], row["src_partition"])


class KnownUsers:
    def __init__(self, capacity: int = 200_000) -> None:
        self.capacity = capacity
        self._known: OrderedDict[Key, tuple[Any, ...]] = OrderedDict()

    def needed(self, rows: Iterable[Row]) -> list[Row]:
        """The rows that could still change the evidence."""
        return [row for row in rows if not self._covers(row)]

    def _covers(self, row: Row) -> bool:
        known = self._known.get(key_of(row))
        return known is not None and known <= sighting(row)

    def committed(self, rows: Iterable[Row]) -> None:
        """Record rows whose transaction has committed (merged as the upsert merges them)."""
        for row in rows:
            key = key_of(row)
            seen = sighting(row)
            known = self._known.pop(key, None)
            self._known[key] = seen if known is None else min(known, seen)
            if len(self._known) > self.capacity:
                self._known.popitem(last=False)

    def forget_partition(self, topic: str, partition: int) -> None:
        for key in [k for k in self._known if k[2] == topic and k[3] == partition]:
            del self._known[key]

    def clear(self) -> None:
        self._known.clear()
