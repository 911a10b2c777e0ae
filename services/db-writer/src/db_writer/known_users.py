"""Users this writer knows are in the database, so it does not upsert them again and again.

Nearly every event names a user who already exists; upserting each one again costs Postgres a
speculative insert per event for nothing. A row is skipped only when the database, as far as
this writer committed, already holds a sighting no later than it and every flag it sets, i.e.
when the upsert could not change anything (so results stay independent of order).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

from db_writer.mapping import Row

Known = tuple[tuple[Any, ...], bool, bool]  # (sighting, seen_on_chain, known_to_oracle)


def sighting(row: Row) -> tuple[Any, ...]:
    block = row["first_seen_block"]
    return (row["first_seen_at"], row["first_seen_source"], -1 if block is None else block)


class KnownUsers:
    def __init__(self, capacity: int = 200_000) -> None:
        self.capacity = capacity
        self._known: OrderedDict[str, Known] = OrderedDict()

    def needed(self, rows: Iterable[Row]) -> list[Row]:
        """The rows that could still change the users table."""
        return [row for row in rows if not self._covers(row)]

    def _covers(self, row: Row) -> bool:
        known = self._known.get(row["address"])
        if known is None:
            return False
        first, on_chain, oracle = known
        return (
            first <= sighting(row)
            and (on_chain or not row["seen_on_chain"])
            and (oracle or not row["known_to_oracle"])
        )

    def committed(self, rows: Iterable[Row]) -> None:
        """Record rows whose transaction has committed (merged as the upsert merges them)."""
        for row in rows:
            address = row["address"]
            seen = (sighting(row), bool(row["seen_on_chain"]), bool(row["known_to_oracle"]))
            known = self._known.pop(address, None)
            if known is not None:
                seen = (min(known[0], seen[0]), known[1] or seen[1], known[2] or seen[2])
            self._known[address] = seen
            if len(self._known) > self.capacity:
                self._known.popitem(last=False)
