"""Lag evaluation in the manner of Burrow, on sample windows built by hand."""

from __future__ import annotations

import pytest
from health_monitor.domain.burrow import (
    EndSample,
    LagStatus,
    OffsetSample,
    PartitionWindow,
    evaluate,
    lag_seconds,
    worst,
)


def window(*points: tuple[int, int]) -> list[OffsetSample]:
    """(committed, lag) per sample, one second apart."""
    return [OffsetSample(float(i), committed, lag) for i, (committed, lag) in enumerate(points)]


@pytest.mark.parametrize(
    ("points", "alive", "status"),
    [
        # Rule 1: lag zero at any point of the window is OK, while someone consumes.
        (((10, 5), (10, 0), (10, 7), (10, 9)), True, LagStatus.OK),
        # ... but a group with no live consumer is never OK while it has lag.
        (((10, 5), (10, 0), (10, 7), (10, 9)), False, LagStatus.STOP),
        # Rule 2: the committed offset went backwards.
        (((10, 5), (12, 5), (8, 9), (9, 9)), True, LagStatus.REWIND),
        # Rule 3: nothing commits (no live member) while there is lag.
        (((10, 5), (10, 6), (10, 8), (10, 9)), False, LagStatus.STOP),
        # Rule 4: a live member, its offset unmoved over the whole window, lag there.
        (((10, 5), (10, 5), (10, 6), (10, 6)), True, LagStatus.STALL),
        # Rule 5: moving, but the lag never shrinks: falling behind.
        (((10, 5), (12, 5), (14, 6), (16, 8)), True, LagStatus.WARN),
        # Moving and the lag shrinks somewhere: fine.
        (((10, 5), (12, 7), (16, 4), (18, 6)), True, LagStatus.OK),
        # One sample says nothing yet of a live consumer.
        (((10, 5),), True, LagStatus.OK),
    ],
)
def test_burrow_rules(points: tuple[tuple[int, int], ...], alive: bool, status: LagStatus) -> None:
    assert evaluate(window(*points), full=True, consumer_alive=alive) is status


def test_stall_and_warn_wait_for_a_full_window() -> None:
    # A consumer in the middle of a long batch has not committed for two samples: not stuck.
    partial = window((10, 5), (10, 6))
    assert evaluate(partial, full=False, consumer_alive=True) is LagStatus.OK
    assert evaluate(partial, full=True, consumer_alive=True) is LagStatus.STALL
    # A stopped consumer and a rewind need no full window.
    assert evaluate(partial, full=False, consumer_alive=False) is LagStatus.STOP
    assert evaluate(window((10, 5), (9, 6)), full=False, consumer_alive=True) is LagStatus.REWIND


def test_rewind_is_reported_before_stop() -> None:
    assert evaluate(window((10, 5), (4, 11)), full=True, consumer_alive=False) is LagStatus.REWIND


def test_worst_status_of_a_group() -> None:
    assert worst([LagStatus.OK, LagStatus.STALL, LagStatus.WARN]) is LagStatus.STALL
    assert worst([LagStatus.OK, LagStatus.STOP, LagStatus.REWIND]) is LagStatus.STOP
    assert worst([]) is LagStatus.OK


def test_lag_seconds_interpolates_when_the_end_passed_the_committed_offset() -> None:
    ends = [EndSample(100.0, 10), EndSample(110.0, 20), EndSample(120.0, 20)]
    # Offset 14 was appended when the end went from 14 to 15, at 105 if appends were even.
    assert lag_seconds(ends, committed=14, now=130.0) == pytest.approx(25.0)
    assert lag_seconds(ends, committed=10, now=130.0) == pytest.approx(29.0)
    assert lag_seconds(ends, committed=19, now=130.0) == pytest.approx(20.0)
    assert lag_seconds(ends, committed=20, now=130.0) == 0.0


def test_lag_seconds_is_a_lower_bound_before_the_first_sample() -> None:
    ends = [EndSample(100.0, 50), EndSample(110.0, 60)]
    assert lag_seconds(ends, committed=10, now=125.0) == pytest.approx(25.0)


def test_a_partition_window_over_time() -> None:
    partition = PartitionWindow(window=3, history_s=600)
    # Caught up, then the consumer stops while 5 records arrive, 2 s apart from t=2.
    assert partition.observe(0.0, 10, 10, 0, None, consumer_alive=True).status is LagStatus.OK
    for i, end in enumerate((11, 13, 15), start=1):
        seen = partition.observe(2.0 * i, 10, end, end - 10, 2.0, consumer_alive=False)
    assert (seen.lag, seen.status) == (5, LagStatus.STOP)
    # The age of the oldest unwritten record (appended at t=2), not of the last activity.
    assert seen.lag_seconds == pytest.approx(4.0)
    # Restarted: it commits, the lag shrinks (OK at once), drains to zero.
    assert partition.observe(8.0, 13, 15, 2, 6.0, consumer_alive=True).status is LagStatus.OK
    drained = partition.observe(10.0, 15, 15, 0, None, consumer_alive=True)
    assert (drained.lag, drained.lag_seconds, drained.status) == (0, 0.0, LagStatus.OK)
    assert [p.lag for p in partition.recent] == [0, 1, 3, 5, 2, 0]


def test_a_pause_after_a_quiet_log_is_measured_from_the_oldest_record() -> None:
    # Quiet for a minute (the log end unmoved), then one record and the writer pauses 4 s:
    # 4 s of lag, not the minute since the log last moved.
    partition = PartitionWindow(window=3, history_s=600)
    for t in range(0, 60, 5):
        partition.observe(float(t), 10, 10, 0, None, consumer_alive=True)
    seen = partition.observe(64.0, 10, 12, 1, 60.0, consumer_alive=True)
    assert seen.lag == 1  # the record; its transaction marker is no lag
    assert seen.lag_seconds == pytest.approx(4.0)


def test_transaction_markers_are_not_lag() -> None:
    # A transactional producer's commit marker takes an offset that no consumer receives:
    # a consumer past the last record (committed 11 = the marker's offset, end 12) is caught up.
    partition = PartitionWindow(window=3, history_s=600)
    for t in range(4):
        seen = partition.observe(float(t), 11, 12, 0, None, consumer_alive=True)
    assert (seen.lag, seen.status) == (0, LagStatus.OK)
