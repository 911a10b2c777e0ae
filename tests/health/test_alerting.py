"""Alerts raised and resolved without flapping, from what the evaluation found."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from health_monitor.domain import score
from health_monitor.domain.alerting import AlertBook, Condition, Thresholds, conditions
from health_monitor.domain.burrow import LagStatus
from health_monitor.domain.lag import GroupLag, PartitionLag
from health_monitor.domain.reserves import Attestation
from reservesync.messages import AlertState, Severity

from tests.health.support.seed import SEED_COUNTS

T = datetime(2025, 9, 21, 12, 0, tzinfo=UTC)
LOW = Condition("health:score", "health_score_low", Severity.WARNING, "score 90% is below 95%")
CRITICAL = Condition("health:score", "health_score_low", Severity.CRITICAL, "score 70% < 80%")


def at(seconds: float) -> datetime:
    return T + timedelta(seconds=seconds)


def test_a_condition_fires_only_after_holding_and_resolves_only_after_clearing() -> None:
    book = AlertBook(raise_after_s=30, resolve_after_s=60)
    assert book.update(at(0), [LOW]) == []
    assert book.update(at(20), [LOW]) == []
    (fired,) = book.update(at(30), [LOW])
    assert (fired.alert_id, fired.state, fired.severity) == (
        "health:score",
        AlertState.FIRING,
        Severity.WARNING,
    )
    assert book.update(at(40), [LOW]) == []  # said once
    # Flapping: gone, back before the resolve delay, gone again: nothing announced.
    assert book.update(at(50), []) == []
    assert book.update(at(70), [LOW]) == []
    assert book.update(at(80), []) == []
    assert book.update(at(130), []) == []
    (resolved,) = book.update(at(140), [])
    assert (resolved.state, resolved.alert_id) == (AlertState.RESOLVED, "health:score")
    assert book.firing == []


def test_a_blip_shorter_than_the_raise_delay_never_fires() -> None:
    book = AlertBook(raise_after_s=30, resolve_after_s=60)
    for second in range(0, 300, 20):
        # True for one sample in three: never 30 s in a row.
        assert book.update(at(second), [LOW] if second % 60 == 0 else []) == []


def test_severity_rises_at_once_and_falls_only_after_holding() -> None:
    book = AlertBook(raise_after_s=0, resolve_after_s=60)
    book.update(at(0), [LOW])
    (worse,) = book.update(at(5), [CRITICAL])
    assert worse.severity is Severity.CRITICAL
    assert book.update(at(10), [LOW]) == []
    assert book.update(at(30), [CRITICAL]) == []  # back up: no news
    assert book.update(at(40), [LOW]) == []
    (better,) = book.update(at(100), [LOW])
    assert better.severity is Severity.WARNING


def test_alerts_still_firing_on_the_topic_are_resumed_and_resolved() -> None:
    earlier = AlertBook(raise_after_s=0, resolve_after_s=0)
    (fired,) = earlier.update(at(0), [LOW])
    restarted = AlertBook(raise_after_s=0, resolve_after_s=10)
    restarted.restore([fired])
    assert restarted.firing == [fired]
    assert restarted.update(at(100), []) == []
    (resolved,) = restarted.update(at(110), [])
    assert resolved.state is AlertState.RESOLVED


def _group(status: LagStatus, lag: int) -> GroupLag:
    partition = PartitionLag(
        topic="rbtc.chain.events.v1",
        partition=3,
        committed=10,
        end=10 + lag,
        lag=lag,
        lag_seconds=12.0,
        status=status,
    )
    return GroupLag(
        group="rbtc-db-writer",
        consumer_alive=status is not LagStatus.STOP,
        status=status,
        lag=lag,
        max_lag_seconds=12.0,
        partitions=[partition],
    )


def test_conditions_of_the_seed_state() -> None:
    components = score.components(SEED_COUNTS)
    found = conditions(
        score.total(components),
        components,
        [_group(LagStatus.STOP, 40)],
        {"rbtc.chain.events.v1": 2},
        Thresholds(),
    )
    by_id = {c.alert_id: c for c in found}
    assert by_id["health:score"].severity is Severity.CRITICAL  # 68.4 < 80
    assert by_id["health:component:user_management"].severity is Severity.WARNING
    assert by_id["health:component:emergency_burns_sync"].severity is Severity.CRITICAL
    assert by_id["health:component:oracle_operations_log"].severity is Severity.CRITICAL
    assert "health:component:transaction_logging" not in by_id
    assert by_id["health:lag:rbtc-db-writer"].details["status"] == "STOP"
    assert by_id["health:dlq:rbtc.chain.events.v1"].details["new_dead_letters"] == 2


def test_a_writer_keeping_up_is_in_flight_not_missing() -> None:
    components = score.components(SEED_COUNTS)
    found = conditions(
        score.total(components),
        components,
        [_group(LagStatus.OK, 3)],
        {},
        Thresholds(),
        writer_catching_up=True,
    )
    assert [c.alert_id for c in found] == ["health:score"]


def test_reserves_under_backed_is_critical_and_fully_backed_is_quiet() -> None:
    components = score.components(SEED_COUNTS)
    at = datetime(2025, 9, 21, 12, 0, tzinfo=UTC)

    def reserves_alerts(attestation: Attestation) -> list[Condition]:
        found = conditions(
            100.0, components, [], {}, Thresholds(), writer_catching_up=True, reserves=attestation
        )
        return [c for c in found if c.kind == "reserves_under_backed"]

    (under,) = reserves_alerts(Attestation(rbtc_sats=200_000, btc_sats=150_000, as_of=at))
    assert under.alert_id == "health:reserves"
    assert under.severity is Severity.CRITICAL
    assert under.details["backing_ratio"] == 0.75
    assert "150,000 sats of BTC for 200,000 sats of rBTC" in under.summary
    assert reserves_alerts(Attestation(rbtc_sats=200_000, btc_sats=200_000, as_of=at)) == []
    assert reserves_alerts(Attestation(rbtc_sats=0, btc_sats=0, as_of=at)) == []
    # BTC covering the supply does not hide supply that no synced balance backs.
    (unbacked,) = reserves_alerts(
        Attestation(rbtc_sats=200_000, btc_sats=250_000, as_of=at, unbacked_supply_sats=585_038)
    )
    assert unbacked.details["unbacked_supply_sats"] == 585_038
    assert "585,038 sats of supply no synced balance backs" in unbacked.summary


def test_a_conflicting_duplicate_is_a_critical_alert_of_its_own() -> None:
    components = score.components(SEED_COUNTS)
    found = conditions(
        100.0,
        components,
        [],
        {"rbtc.chain.events.v1": 1},
        Thresholds(),
        writer_catching_up=True,
        conflicts={"rbtc.chain.events.v1": 1, "rbtc.oracle.operations.v1": 0},
    )
    by_id = {c.alert_id: c for c in found}
    conflict = by_id["health:conflict:rbtc.chain.events.v1"]
    assert conflict.kind == "conflicting_duplicate"
    assert conflict.severity is Severity.CRITICAL
    assert conflict.details == {
        "source_topic": "rbtc.chain.events.v1",
        "conflicting_duplicates": 1,
    }
    assert "health:conflict:rbtc.oracle.operations.v1" not in by_id
    assert "health:dlq:rbtc.chain.events.v1" in by_id  # the DLQ grew as well
