"""How many blocks one eth_getLogs asks for: adapted to what the provider allows and how fast
it answers, and remembered, so a backfill neither crawls nor keeps hitting the same limit.

Providers refuse ranges in their own words ("query returned more than 10000 results",
"block range too large", "log response size exceeded ... this block range should work:
[0x1, 0x2]"); when the refusal names a range or a maximum, that size is used at once instead
of halving towards it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from chain_listener.rpc import RpcError

_LIMIT_PATTERNS = re.compile(
    r"more than \d+ results|range (is )?too (large|wide|big)|response size|too many "
    r"(results|logs|blocks)|max(imum)? block range|limited to|exceed(s|ed)? .*range|"
    r"block range .*(limit|exceed)|results? limit|query timeout",
    re.IGNORECASE,
)
_HINTED_RANGE = re.compile(r"\[\s*(0x[0-9a-f]+|\d+)\s*,\s*(0x[0-9a-f]+|\d+)\s*\]", re.IGNORECASE)
_HINTED_SIZE = re.compile(
    r"(?:max(?:imum)?(?: block)? range(?: is| of)?:?|limited to(?: a)?|up to(?: a)?)\s*"
    r"([\d,]+)\s*(k?)",
    re.IGNORECASE,
)


def _number(text: str) -> int:
    return int(text, 16) if text.lower().startswith("0x") else int(text)


@dataclass(frozen=True)
class BlockRange:
    first: int
    last: int

    @property
    def size(self) -> int:
        return self.last - self.first + 1

    def __str__(self) -> str:
        return f"[{self.first}, {self.last}]"


@dataclass(frozen=True)
class RangeRefused:
    """A provider's "this range is too large", with the size it suggested if it did."""

    suggested_size: int | None


def range_refusal(error: RpcError) -> RangeRefused | None:
    """Whether `error` says the range was too large, and what size the provider suggests."""
    text = error.text
    if not _LIMIT_PATTERNS.search(text):
        return None
    hinted = _HINTED_RANGE.search(text)
    if hinted:
        first, last = (_number(value) for value in hinted.groups())
        return RangeRefused(max(1, last - first + 1) if last >= first else None)
    size = _HINTED_SIZE.search(text)
    if size:
        number = int(size.group(1).replace(",", "")) * (1000 if size.group(2) else 1)
        return RangeRefused(max(1, number) if number else None)
    return RangeRefused(None)


class RangeSizer:
    """The block count of the next eth_getLogs.

    Soft limits keep each range a modest Kafka transaction that overlaps with the next fetch:
    above twice the target time or log count the size is cut to fit, and below half of both
    it grows by half. Hard limits come from the provider: a refusal jumps to the size it
    suggests (else halves), a truncated answer to what came back complete, and the refused
    size becomes a ceiling that is only crept past after a run of successes, so a dense
    stretch of chain does not make every other range fail once.
    """

    GROWTH_RUN = 8
    """Successes at the ceiling before it is raised again by a quarter."""

    def __init__(self, initial: int, maximum: int, target_s: float, target_logs: int) -> None:
        self.maximum = maximum
        self.size = max(1, min(initial, maximum))
        self.ceiling = maximum
        self.target_s = target_s
        self.target_logs = target_logs
        self._run = 0

    def succeeded(self, blocks: int, elapsed_s: float, logs: int) -> None:
        load = max(elapsed_s / self.target_s, logs / self.target_logs)
        if load > 2:
            self.size = max(1, int(blocks / load))
            return
        if load >= 0.5 or blocks < self.size:
            # Not clearly light, or a short range at the head: no evidence for a bigger size.
            return
        if self.size >= self.ceiling:
            self._run += 1
            if self._run < self.GROWTH_RUN:
                return
            self.ceiling = min(self.maximum, self.ceiling + max(1, self.ceiling // 4))
            self._run = 0
        self.size = min(self.ceiling, self.size + max(1, self.size // 2))

    def refused(self, blocks: int, suggested: int | None) -> None:
        self._limit(suggested if suggested is not None and suggested < blocks else blocks // 2)

    def too_slow(self, blocks: int) -> None:
        self._limit(blocks // 2)

    def truncated(self, complete_blocks: int) -> None:
        """A response that held only the first `complete_blocks` blocks of a range."""
        self._limit(complete_blocks)

    def _limit(self, size: int) -> None:
        self.size = max(1, min(size, self.maximum))
        self.ceiling = self.size
        self._run = 0
