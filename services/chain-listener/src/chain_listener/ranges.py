"""What a provider's refusal of an eth_getLogs range says about the size to ask for next (the
size itself is kept by `reservesync.log_ranges.RangeSizer`), so a backfill neither crawls nor
keeps hitting the same limit.

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
