"""A set of identifiers (event ids, operation ids) at eight bytes apiece.

Counting what producers published must not count a record twice when it was published twice
(a standby chain-listener, an oracle-logger retry after a restart): the database keeps one row,
so the source count must too. Millions of ids as Python strings would take gigabytes; as 64-bit
digests in sorted arrays they take 8 bytes each. Recent ids sit in a plain set and are merged
into the sorted runs in the background of inserts, like a small log-structured merge tree.
A 64-bit digest collides with odds of about n²/2⁶⁵ (3·10⁻⁶ at ten million ids).
"""

from __future__ import annotations

import bisect
import hashlib
from array import array

FRESH_LIMIT = 65_536
"""Ids kept in the plain set before they are merged into a sorted run."""


def digest(identifier: str) -> int:
    return int.from_bytes(
        hashlib.blake2b(identifier.encode(), digest_size=8).digest(), "big", signed=True
    )


class IdSet:
    def __init__(self) -> None:
        self._fresh: set[int] = set()
        # Sorted runs, each at least twice the size of the next: a merge touches each id
        # O(log n) times over its life.
        self._runs: list[array[int]] = []
        self._removed: set[int] = set()
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def __contains__(self, identifier: object) -> bool:
        return isinstance(identifier, str) and self._has(digest(identifier))

    def add(self, identifier: str) -> bool:
        """Add `identifier`; False when it was already there."""
        key = digest(identifier)
        if self._has(key):
            return False
        if key in self._removed:
            self._removed.discard(key)  # still in a run, shadowed until now
        else:
            self._fresh.add(key)
            if len(self._fresh) >= FRESH_LIMIT:
                self._compact()
        self._size += 1
        return True

    def discard(self, identifier: str) -> None:
        key = digest(identifier)
        if key in self._fresh:
            self._fresh.discard(key)
            self._size -= 1
        elif key not in self._removed and any(_in_run(run, key) for run in self._runs):
            # Runs are immutable; forgetting is rare (reorgs), so a shadow set is enough.
            self._removed.add(key)
            self._size -= 1

    def _has(self, key: int) -> bool:
        if key in self._fresh:
            return True
        if key in self._removed:
            return False
        return any(_in_run(run, key) for run in self._runs)

    def _compact(self) -> None:
        run = array("q", sorted(self._fresh))
        self._fresh = set()
        while self._runs and len(self._runs[-1]) <= 2 * len(run):
            run = array("q", sorted(self._runs.pop() + run))
        self._runs.append(run)


def _in_run(run: array[int], key: int) -> bool:
    index = bisect.bisect_left(run, key)
    return index < len(run) and run[index] == key
