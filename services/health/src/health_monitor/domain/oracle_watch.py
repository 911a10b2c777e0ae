"""Judging the oracle against Bitcoin itself: what the oracle synced on chain for each user
against the confirmed balance of the user's monitored addresses as the bitcoin-listener
recorded it; many burns in a short window; the token's supply against the BTC Bitcoin shows (the
Secure-Mint rule). Pure: the readings come from `world/oracle_watch.py`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from reservesync.messages import Severity

from health_monitor.domain.alerting import OWN_PREFIX, Condition

FAIL_TO_ZERO = "oracle_fail_to_zero"
DIVERGENCE = "oracle_divergence"
MASS_BURN = "mass_burn"
UNDER_BACKED = "under_backed"


@dataclass(frozen=True)
class Limits:
    tolerance_sats: int = 1000
    """A synced balance this close to Bitcoin's agrees with it."""
    divergence_blocks: int = 6
    """Bitcoin blocks a divergence must last before it is an alert."""
    drop_sats: int = 1_000_000
    """A single sync down by at least this much is judged like a sync to 0."""
    mass_burn_users: int = 5
    mass_burn_window_s: float = 600.0


@dataclass(frozen=True)
class UserReading:
    """One user, both sides: the oracle's synced sats (the chain's newest `Synced`/burn of the
    user in `balance_history`) and Bitcoin's confirmed sats of every verified address the oracle
    monitors."""

    user: str
    synced_sats: int
    bitcoin_sats: int
    bitcoin_height: int
    """The lowest height any of the user's address balances was recorded at."""
    previous_sats: int
    """The synced balance before the newest change."""
    cause: str
    """SYNC or EMERGENCY_BURN: what made the newest change."""
    block: int
    """The EVM block of the newest change."""

    @property
    def gap_sats(self) -> int:
        return self.synced_sats - self.bitcoin_sats

    def diverges(self, limits: Limits) -> bool:
        return abs(self.gap_sats) > limits.tolerance_sats

    def failed_to_zero(self, limits: Limits) -> bool:
        """The newest change took the balance down to 0 (or by at least `drop_sats`), and
        Bitcoin does not show that drop: it still holds more than the synced sats."""
        drop = self.previous_sats - self.synced_sats
        if drop <= 0 or (self.synced_sats != 0 and drop < limits.drop_sats):
            return False
        return self.bitcoin_sats - self.synced_sats > limits.tolerance_sats


@dataclass(frozen=True)
class Burn:
    user: str
    burned_sats: int
    at: datetime
    cause: str


def fail_to_zero(reading: UserReading) -> Condition:
    return Condition(
        f"{OWN_PREFIX}{FAIL_TO_ZERO}:{reading.user}",
        FAIL_TO_ZERO,
        Severity.CRITICAL,
        f"the oracle synced {reading.user} from {reading.previous_sats:,} down to "
        f"{reading.synced_sats:,} sats at block {reading.block} while Bitcoin shows "
        f"{reading.bitcoin_sats:,} sats on the user's monitored addresses "
        f"(height {reading.bitcoin_height})",
        _user_details(reading),
        raise_after_s=0,  # within one cycle: rBTC was burned that Bitcoin still backs
    )


def divergence(reading: UserReading, blocks: int) -> Condition:
    return Condition(
        f"{OWN_PREFIX}{DIVERGENCE}:{reading.user}",
        DIVERGENCE,
        Severity.WARNING,
        f"the oracle's synced {reading.synced_sats:,} sats of {reading.user} differ from "
        f"Bitcoin's {reading.bitcoin_sats:,} sats by {reading.gap_sats:+,} for {blocks} "
        "Bitcoin blocks",
        {**_user_details(reading), "diverging_blocks": blocks},
        raise_after_s=0,  # it already held for the blocks
    )


def _user_details(reading: UserReading) -> dict[str, str | int | float | bool | None]:
    return {
        "user": reading.user,
        "synced_sats": reading.synced_sats,
        "previous_sats": reading.previous_sats,
        "bitcoin_sats": reading.bitcoin_sats,
        "gap_sats": reading.gap_sats,
        "bitcoin_height": reading.bitcoin_height,
        "evm_block": reading.block,
        "cause": reading.cause,
    }


def mass_burn(burns: Iterable[Burn], now: datetime, limits: Limits) -> Condition | None:
    """Many users burned (emergency burns, syncs down to 0) within the window."""
    recent = [b for b in burns if (now - b.at).total_seconds() <= limits.mass_burn_window_s]
    users = {b.user for b in recent}
    if len(users) < limits.mass_burn_users:
        return None
    largest = sorted(recent, key=lambda b: b.burned_sats, reverse=True)[:10]
    return Condition(
        f"{OWN_PREFIX}{MASS_BURN}",
        MASS_BURN,
        Severity.CRITICAL,
        f"{len(users)} users burned within {limits.mass_burn_window_s:g}s "
        f"({sum(b.burned_sats for b in recent):,} sats)",
        {
            "users": len(users),
            "burns": len(recent),
            "burned_sats": sum(b.burned_sats for b in recent),
            "window_s": limits.mass_burn_window_s,
            "largest": ", ".join(f"{b.user}: {b.burned_sats:,} ({b.cause})" for b in largest),
        },
        raise_after_s=0,
    )


def under_backed(
    supply_sats: int,
    bitcoin_sats: int,
    height: int,
    as_of: datetime,
    limits: Limits,
    *,
    pending_mint_sats: int = 0,
) -> Condition | None:
    """The Secure-Mint rule against Bitcoin itself: the token's supply plus the mints pending
    (logged by the oracle, their `Synced` not in the database yet) must not exceed the BTC the
    verified addresses hold."""
    owed = supply_sats + pending_mint_sats
    if owed - bitcoin_sats <= limits.tolerance_sats:
        return None
    ratio = bitcoin_sats / owed if owed else 0.0
    pending = f" + {pending_mint_sats:,} sats of pending mints" if pending_mint_sats else ""
    return Condition(
        f"{OWN_PREFIX}{UNDER_BACKED}:bitcoin",
        UNDER_BACKED,
        Severity.CRITICAL,
        f"rBTC supply {supply_sats:,} sats{pending} exceeds the {bitcoin_sats:,} sats Bitcoin "
        f"shows on the verified addresses at height {height} by {owed - bitcoin_sats:,} sats "
        f"(ratio {ratio:.4f})",
        {
            "supply_sats": supply_sats,
            "pending_mint_sats": pending_mint_sats,
            "bitcoin_sats": bitcoin_sats,
            "shortfall_sats": owed - bitcoin_sats,
            "backing_ratio": round(ratio, 6),
            "bitcoin_height": height,
            "supply_as_of": as_of.isoformat(),
        },
    )


class DivergenceBook:
    """Since which Bitcoin height each user has diverged (forgotten once they agree again)."""

    def __init__(self) -> None:
        self.since: dict[str, int] = {}

    def observe(self, readings: Iterable[UserReading], height: int, limits: Limits) -> None:
        for reading in readings:
            if reading.diverges(limits):
                self.since.setdefault(reading.user, height)
            else:
                self.since.pop(reading.user, None)

    def lasting(
        self, readings: Mapping[str, UserReading], height: int, limits: Limits
    ) -> list[Condition]:
        found = []
        for user, since in self.since.items():
            reading = readings.get(user)
            if reading is not None and height - since >= limits.divergence_blocks:
                found.append(divergence(reading, height - since))
        return found
