"""Value types of the Kafka contract (SPEC section 3).

Every constraint lives here once, so a bad address or an overflowing amount is rejected the same
way by every producer and consumer.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, Field, PlainSerializer, StringConstraints

from reservesync import addresses

# All bitcoin that can ever exist, in sats: a balance above it is corrupt input, not a big user.
MAX_SATS = 21_000_000 * 100_000_000


Address = Annotated[
    str, StringConstraints(pattern=addresses.PATTERN), AfterValidator(addresses.canonical)
]
"""An EVM address by the one rule of `reservesync.addresses` (lowercase, uppercase or a valid
EIP-55 checksum), always carried lowercase."""

HASH32_PATTERN = r"^0x[0-9a-fA-F]{64}$"
Hash32 = Annotated[str, StringConstraints(pattern=HASH32_PATTERN, to_lower=True)]
"""A 32-byte hash (block or transaction), lowercase hex. Lowered by pydantic-core after the
pattern matched (the same as a Python validator after it, without a call per hash: every
chain event has two)."""


Sats = Annotated[int, Field(ge=0, le=MAX_SATS, strict=True)]
INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1
Count = Annotated[int, Field(ge=0, le=INT64_MAX)]
"""A non-negative count or height that a PostgreSQL bigint holds (block numbers, chain ids,
counters); a larger one is refused at decode with its reason, never met by the database."""
PositiveCount = Annotated[int, Field(gt=0, le=INT64_MAX)]
SmallIndex = Annotated[int, Field(ge=0, le=INT32_MAX)]
"""A position within a block (log index, transaction index): a PostgreSQL integer."""


def _require_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("timestamp must carry a timezone (RFC 3339)")
    try:
        return value.astimezone(UTC)
    except OverflowError:  # year 1 or 9999 shifted past the calendar's end
        raise ValueError("timestamp out of range once in UTC") from None


@functools.lru_cache(maxsize=1024)
def _rfc3339(value: datetime) -> str:
    # Cached: a block's events share its timestamp, and formatting it (0.8 µs) was a few per
    # cent of the listener's and the writer's time per event; the cache costs 0.06 µs.
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


UtcDatetime = Annotated[
    datetime,
    AfterValidator(_require_utc),
    PlainSerializer(_rfc3339, return_type=str, when_used="json"),
]
"""An RFC 3339 timestamp, normalised to UTC and written with a `Z`."""


def storable(text: str) -> str:
    """`text` unchanged when PostgreSQL can store it; raises ValueError otherwise.

    PostgreSQL text cannot hold NUL, and a lone UTF-16 surrogate (which JSON's `\\ud800` escape
    can produce) is not UTF-8 at all: accepting either would acknowledge a message that can
    never be written. Refusing them here makes every producer and consumer agree."""
    if "\x00" in text:
        raise ValueError("must not contain NUL (\\u0000): PostgreSQL text cannot store it")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(
            f"must be valid Unicode: a lone surrogate at position {exc.start}"
        ) from None
    return text


StorableText = Annotated[str, AfterValidator(storable)]
"""Free text that a PostgreSQL `text` column can hold (no NUL, no lone surrogate)."""
ShortText = Annotated[str, StringConstraints(max_length=1024), AfterValidator(storable)]
Identifier = Annotated[
    str, StringConstraints(min_length=1, max_length=200, pattern=r"^[\x21-\x7e]+$")
]
"""An idempotency key or id: printable ASCII, no spaces, bounded."""

BitcoinHash = Annotated[str, StringConstraints(pattern=r"^[0-9a-fA-F]{64}$", to_lower=True)]
"""A Bitcoin block or transaction hash as its RPC shows it: 64 hex digits, no `0x`, lowercase."""
