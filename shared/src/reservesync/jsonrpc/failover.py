"""Which RPC URL to call next: failover between URLs, jittered backoff, Retry-After.

Every URL that fails is rested for a while (its own exponential backoff with full jitter, or
exactly what the server asked for with Retry-After); requests go to the first URL, in the
configured order, that is not resting. So the primary is used whenever it works, a failing
one is retried without hammering it, and with every URL resting the caller waits for the one
that is ready first instead of spinning.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

BASE_DELAY_S = 0.1
MAX_DELAY_S = 10.0


@dataclass
class Endpoint:
    url: str
    failures: int = 0
    resting_until: float = 0.0

    def backoff_s(self) -> float:
        # Full jitter: many listeners (or many retries of one) do not retry in lockstep.
        ceiling = min(MAX_DELAY_S, BASE_DELAY_S * 2 ** min(self.failures - 1, 16))
        return random.uniform(ceiling / 2, ceiling)  # noqa: S311 (timing, not security)


class EndpointPool:
    def __init__(self, urls: list[str]) -> None:
        if not urls:
            raise ValueError("at least one RPC URL is needed")
        self.endpoints = [Endpoint(url) for url in urls]

    def choose(self) -> tuple[Endpoint, float]:
        """The endpoint to call and how long to wait before calling it."""
        now = time.monotonic()
        for endpoint in self.endpoints:
            if endpoint.resting_until <= now:
                return endpoint, 0.0
        soonest = min(self.endpoints, key=lambda e: e.resting_until)
        return soonest, soonest.resting_until - now

    @staticmethod
    def succeeded(endpoint: Endpoint) -> None:
        endpoint.failures = 0
        endpoint.resting_until = 0.0

    @staticmethod
    def failed(endpoint: Endpoint, retry_after_s: float | None = None) -> float:
        """Rest `endpoint`; returns for how long."""
        endpoint.failures += 1
        rest = retry_after_s if retry_after_s is not None else endpoint.backoff_s()
        endpoint.resting_until = time.monotonic() + rest
        return rest


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header: delta-seconds or an HTTP date (RFC 9110)."""
    if not value:
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
