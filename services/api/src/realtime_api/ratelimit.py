"""Per-client token buckets: `rate` requests per second sustained, `burst` at once.

In memory, per process: behind several replicas or workers each enforces its own share, which
bounds a client to N times the rate; a shared limit needs a shared store, which this service
does not have. The least recently seen clients are forgotten beyond `max_clients`, so a flood
of spoofed sources cannot grow the table without bound.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable


class RateLimiter:
    def __init__(
        self,
        rate: float,
        burst: int,
        max_clients: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = rate
        self.burst = float(burst)
        self._max_clients = max_clients
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def acquire(self, client: str) -> float:
        """Take a token for `client`: 0 when allowed, else the seconds until one is free."""
        now = self._clock()
        tokens, last = self._buckets.pop(client, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        wait = 0.0
        if tokens >= 1:
            tokens -= 1
        else:
            wait = (1 - tokens) / self.rate
        self._buckets[client] = (tokens, now)
        if len(self._buckets) > self._max_clients:
            self._buckets.popitem(last=False)
        return wait


def retry_after(wait_s: float) -> str:
    """Retry-After in whole seconds, never 0 (which would invite an immediate retry)."""
    return str(max(1, math.ceil(wait_s)))
