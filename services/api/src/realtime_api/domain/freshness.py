"""How old what the database says is, and whether it agrees with the oracle."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum


def age_s(then: datetime | None, now: datetime) -> float | None:
    """Seconds since `then`, never negative (a block timestamp a little ahead of our clock is
    "just now", not the future)."""
    if then is None:
        return None
    return round(max(0.0, (now - then).total_seconds()), 3)


class SyncState(StrEnum):
    IN_SYNC = "in_sync"
    """The database's latest synced balance is the balance the oracle reports."""
    STALE = "stale"
    """They differ: the chain (or the pipeline) has not caught up with the oracle, or the
    other way round; `newer` in the response says which side moved last."""
    NOT_REGISTERED = "not_registered"
    """The oracle reports no state for this address."""


def classify(database_sats: int, oracle_sats: int | None) -> SyncState:
    if oracle_sats is None:
        return SyncState.NOT_REGISTERED
    return SyncState.IN_SYNC if database_sats == oracle_sats else SyncState.STALE


def newer_side(database_at: datetime | None, oracle_at: datetime | None) -> str | None:
    """Which side saw the user's balance change last: "database", "oracle", or None when
    either never did or they agree to the second."""
    if database_at is None or oracle_at is None or database_at == oracle_at:
        return None
    return "database" if database_at > oracle_at else "oracle"
