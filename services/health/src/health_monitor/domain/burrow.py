"""Consumer lag judged over a sliding window, in the manner of LinkedIn's Burrow.

Burrow looks at a window of a partition's committed offsets and says, without thresholds:

1. OK when the lag was zero at any point of the window;
2. REWIND when the committed offset went backwards;
3. STOP when the consumer stopped committing;
4. STALL when it commits but the offset does not move while there is lag;
5. WARN when the offset moves but the lag never shrinks (the consumer falls behind);
6. OK otherwise.

Burrow sees every commit. Kafka's admin API only shows the latest committed offset, so the
window here holds samples taken every cycle. What Burrow reads from commit timestamps comes
from the group itself: a group without live members is one that nothing commits for (STOP);
a live member whose offset stays put for a whole window is stuck (STALL).
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum


class LagStatus(StrEnum):
    OK = "OK"
    WARN = "WARN"
    REWIND = "REWIND"
    STALL = "STALL"
    STOP = "STOP"


SEVERITY = {
    LagStatus.OK: 0,
    LagStatus.WARN: 1,
    LagStatus.REWIND: 2,
    LagStatus.STALL: 3,
    LagStatus.STOP: 4,
}


def worst(statuses: Sequence[LagStatus]) -> LagStatus:
    return max(statuses, key=SEVERITY.__getitem__, default=LagStatus.OK)


@dataclass(frozen=True)
class OffsetSample:
    at: float
    committed: int
    lag: int


def evaluate(window: Sequence[OffsetSample], *, full: bool, consumer_alive: bool) -> LagStatus:
    """The status of one partition. `full`: the window holds as many samples as configured
    (STALL and WARN need a whole window, so a consumer between two commits is not blamed)."""
    pairs = list(itertools.pairwise(window))
    if any(later.committed < earlier.committed for earlier, later in pairs):
        return LagStatus.REWIND
    if window and window[-1].lag > 0 and not consumer_alive:
        # Nobody consumes: whatever the window held before, this lag will not shrink.
        return LagStatus.STOP
    if len(window) < 2 or any(sample.lag == 0 for sample in window):
        return LagStatus.OK
    moved = [later.committed - earlier.committed for earlier, later in pairs]
    # Burrow's checks, worst first; the first that holds is the status.
    checks = (
        (any(step < 0 for step in moved), LagStatus.REWIND),
        (not consumer_alive, LagStatus.STOP),
        (full and not any(moved), LagStatus.STALL),
        (full and all(later.lag >= earlier.lag for earlier, later in pairs), LagStatus.WARN),
    )
    return next((status for holds, status in checks if holds), LagStatus.OK)


@dataclass(frozen=True)
class EndSample:
    at: float
    end: int


def lag_seconds(ends: Sequence[EndSample], committed: int, now: float) -> float:
    """How long ago the log end passed the committed offset, i.e. the age of the oldest message
    the consumer has not committed, interpolated linearly between end-offset samples.

    When even the oldest sample is past the committed offset, the answer is a lower bound
    (the time since that sample)."""
    if not ends or ends[-1].end <= committed:
        return 0.0
    previous: EndSample | None = None
    for sample in ends:
        if sample.end > committed:
            if previous is None:
                return max(0.0, now - sample.at)
            # The end went from previous.end (<= committed) to sample.end: it reached
            # committed + 1, the first message not consumed, this far into the interval.
            share = (committed + 1 - previous.end) / (sample.end - previous.end)
            passed = previous.at + share * (sample.at - previous.at)
            return max(0.0, now - passed)
        previous = sample
    return 0.0


@dataclass(frozen=True)
class PartitionLag:
    committed: int
    end: int
    lag: int
    lag_seconds: float
    status: LagStatus


@dataclass(frozen=True)
class LagPoint:
    at: float
    lag: int
    seconds: float


class PartitionWindow:
    """The samples of one group/topic/partition: the Burrow window, the end-offset history for
    lag in seconds, and the recent lag the dashboard draws."""

    def __init__(self, window: int, history_s: float) -> None:
        self.window: deque[OffsetSample] = deque(maxlen=window)
        self.ends: deque[EndSample] = deque()
        self.recent: deque[LagPoint] = deque()
        self.history_s = history_s

    def observe(
        self,
        at: float,
        committed: int,
        end: int,
        unwritten: int,
        oldest_at: float | None,
        *,
        consumer_alive: bool,
    ) -> PartitionLag:
        """`end` is the last stable offset; `unwritten` the records a read_committed consumer
        would still receive below it (transaction markers and aborted records are none), and
        `oldest_at` the timestamp of the first of them: the lag in seconds is its age, however
        long the log was quiet before it."""
        lag = max(0, unwritten)
        self.window.append(OffsetSample(at, committed, lag))
        # A run of equal ends keeps its first and its latest sample: the first says when the
        # end got there, the latest bounds when it moved on.
        if len(self.ends) >= 2 and self.ends[-1].end == end == self.ends[-2].end:
            self.ends[-1] = EndSample(at, end)
        else:
            self.ends.append(EndSample(at, end))
        while len(self.ends) > 2 and self.ends[1].at < at - self.history_s:
            self.ends.popleft()
        status = evaluate(
            self.window,
            full=len(self.window) == self.window.maxlen,
            consumer_alive=consumer_alive,
        )
        if not lag:
            seconds = 0.0
        elif oldest_at is not None:
            seconds = round(max(0.0, at - oldest_at), 3)
        else:  # not read in time: when the log end passed the committed offset
            seconds = round(lag_seconds(list(self.ends), committed, at), 3)
        self.recent.append(LagPoint(at, lag, seconds))
        while self.recent and self.recent[0].at < at - self.history_s:
            self.recent.popleft()
        return PartitionLag(committed, end, lag, seconds, status)
