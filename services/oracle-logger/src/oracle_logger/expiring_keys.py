"""A bounded memory of recently seen keys (accepted operation ids, used signatures).

Entries expire after a fixed time and the oldest go first when it is full, so memory is
bounded whatever clients send. Every entry lives equally long, so insertion order is expiry
order and one ordered dict serves as both the LRU and the TTL index.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable


class RecentKeys:
    def __init__(
        self, capacity: int, ttl_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._capacity = capacity
        self._ttl_s = ttl_s
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, str]] = OrderedDict()

    def get(self, key: str) -> str | None:
        """The value remembered for `key`, or None when unknown or expired."""
        self._expire()
        entry = self._entries.get(key)
        return None if entry is None else entry[1]

    def __contains__(self, key: str) -> bool:
        return self.get(key) is not None

    def put(self, key: str, value: str = "") -> None:
        self._entries.pop(key, None)
        self._entries[key] = (self._clock() + self._ttl_s, value)
        while len(self._entries) > self._capacity:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        self._expire()
        return len(self._entries)

    def _expire(self) -> None:
        now = self._clock()
        while self._entries:
            _, (expires_at, _) = next(iter(self._entries.items()))
            if expires_at > now:
                return
            self._entries.popitem(last=False)
