"""The oracle judged against Bitcoin: a sync down that Bitcoin does not show, a divergence
that lasts N Bitcoin blocks, many burns in a short window, and supply above the BTC Bitcoin
shows (pure: readings in, conditions out)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from health_monitor.domain import oracle_watch as judge
from health_monitor.domain.alerting import AlertBook
from health_monitor.domain.oracle_watch import Burn, DivergenceBook, Limits, UserReading
from reservesync.messages import AlertState, Severity

T = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
LIMITS = Limits(
    tolerance_sats=1000,
    divergence_blocks=3,
    drop_sats=500_000,
    mass_burn_users=3,
    mass_burn_window_s=600,
)
ALICE = "0x" + "a1" * 20


def reading(synced: int, bitcoin: int, previous: int, cause: str = "SYNC") -> UserReading:
    return UserReading(
        user=ALICE,
        synced_sats=synced,
        bitcoin_sats=bitcoin,
        bitcoin_height=120,
        previous_sats=previous,
        cause=cause,
        block=77,
    )


def test_a_sync_to_zero_bitcoin_does_not_show_is_critical_and_says_who_and_how_much() -> None:
    failed = reading(synced=0, bitcoin=250_000, previous=250_000)
    assert failed.failed_to_zero(LIMITS)
    condition = judge.fail_to_zero(failed)
    assert condition.alert_id == f"health:oracle_fail_to_zero:{ALICE}"
    assert condition.kind == "oracle_fail_to_zero"
    assert condition.severity is Severity.CRITICAL
    assert condition.raise_after_s == 0
    assert condition.details["user"] == ALICE
    assert condition.details["previous_sats"] == 250_000
    assert condition.details["synced_sats"] == 0
    assert condition.details["bitcoin_sats"] == 250_000
    assert condition.details["gap_sats"] == -250_000
    assert "from 250,000 down to 0 sats" in condition.summary
    # It fires in the first evaluation that sees it, whatever the book's default delay.
    (fired,) = AlertBook(raise_after_s=30, resolve_after_s=60).update(T, [condition])
    assert fired.state is AlertState.FIRING


def test_a_drop_bitcoin_shows_or_a_small_one_is_not_a_failure() -> None:
    # The user spent the BTC: Bitcoin shows the drop too.
    assert not reading(synced=0, bitcoin=0, previous=250_000).failed_to_zero(LIMITS)
    # Within the tolerance of Bitcoin.
    assert not reading(synced=0, bitcoin=900, previous=250_000).failed_to_zero(LIMITS)
    # Down, not to 0, by less than the drop setting: a divergence at most, not a failure.
    small = reading(synced=200_000, bitcoin=250_000, previous=250_000)
    assert not small.failed_to_zero(LIMITS)
    assert small.diverges(LIMITS)
    # Down by more than the drop setting where Bitcoin shows none: judged like a sync to 0.
    assert reading(synced=100_000, bitcoin=900_000, previous=900_000).failed_to_zero(LIMITS)
    # Up is never a failure to zero.
    assert not reading(synced=250_000, bitcoin=900_000, previous=0).failed_to_zero(LIMITS)
    # An emergency burn that Bitcoin does not justify is one, and says so.
    burned = reading(synced=0, bitcoin=80_000, previous=80_000, cause="EMERGENCY_BURN")
    assert burned.failed_to_zero(LIMITS)
    assert judge.fail_to_zero(burned).details["cause"] == "EMERGENCY_BURN"


def test_a_divergence_alerts_once_it_lasted_the_blocks_and_is_forgotten_when_it_agrees() -> None:
    book = DivergenceBook()
    off = reading(synced=300_000, bitcoin=250_000, previous=250_000)
    book.observe([off], height=100, limits=LIMITS)
    assert book.lasting({ALICE: off}, 102, LIMITS) == []
    (lasting,) = book.lasting({ALICE: off}, 103, LIMITS)
    assert lasting.alert_id == f"health:oracle_divergence:{ALICE}"
    assert lasting.severity is Severity.WARNING
    assert lasting.details["gap_sats"] == 50_000
    assert lasting.details["diverging_blocks"] == 3
    assert "by +50,000 for 3 Bitcoin blocks" in lasting.summary
    # Seen again later: the count runs from the first height, not the last.
    book.observe([off], height=104, limits=LIMITS)
    assert book.lasting({ALICE: off}, 104, LIMITS)[0].details["diverging_blocks"] == 4
    agreed = reading(synced=250_500, bitcoin=250_000, previous=300_000)
    book.observe([agreed], height=105, limits=LIMITS)
    assert book.since == {}
    book.observe([off], height=106, limits=LIMITS)
    assert book.lasting({ALICE: off}, 108, LIMITS) == []  # counted afresh


def test_many_users_burned_in_the_window_is_a_mass_burn() -> None:
    def burn(user: int, seconds_ago: float, sats: int = 10_000) -> Burn:
        return Burn(f"0x{user:040x}", sats, T - timedelta(seconds=seconds_ago), "EMERGENCY_BURN")

    # Two users (one burned twice) in the window, a third one too long ago: quiet.
    quiet = [burn(1, 10), burn(1, 20), burn(2, 30), burn(3, 601)]
    assert judge.mass_burn(quiet, T, LIMITS) is None
    burst = judge.mass_burn([*quiet, burn(4, 5, sats=70_000)], T, LIMITS)
    assert burst is not None
    assert burst.alert_id == "health:mass_burn"
    assert burst.severity is Severity.CRITICAL
    assert burst.details["users"] == 3
    assert burst.details["burns"] == 4
    assert burst.details["burned_sats"] == 100_000
    assert str(burst.details["largest"]).startswith(f"0x{4:040x}: 70,000")


def test_supply_above_the_btc_bitcoin_shows_is_under_backed() -> None:
    short = judge.under_backed(1_000_000, 600_000, 130, T, LIMITS)
    assert short is not None
    assert short.alert_id == "health:under_backed:bitcoin"
    assert short.kind == "under_backed"
    assert short.severity is Severity.CRITICAL
    assert short.details["shortfall_sats"] == 400_000
    assert short.details["backing_ratio"] == 0.6
    assert short.details["bitcoin_height"] == 130
    assert judge.under_backed(1_000_000, 1_000_000, 130, T, LIMITS) is None
    assert judge.under_backed(1_000_000, 2_000_000, 130, T, LIMITS) is None  # over: as is
    assert judge.under_backed(1_000_500, 1_000_000, 130, T, LIMITS) is None  # tolerance


def test_pending_mints_count_with_the_supply() -> None:
    # Backed now, but a mint the oracle logged (its Synced not in the database yet) would not be.
    assert judge.under_backed(1_000_000, 1_100_000, 130, T, LIMITS) is None
    short = judge.under_backed(1_000_000, 1_100_000, 130, T, LIMITS, pending_mint_sats=300_000)
    assert short is not None
    assert short.details["pending_mint_sats"] == 300_000
    assert short.details["shortfall_sats"] == 200_000
    assert short.details["backing_ratio"] == round(1_100_000 / 1_300_000, 6)
    assert "300,000 sats of pending mints" in short.summary
    assert (
        judge.under_backed(1_000_000, 1_100_000, 130, T, LIMITS, pending_mint_sats=100_000) is None
    )
