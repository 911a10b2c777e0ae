"""A worker's own account of its main loop: when it last turned, what it last did, and what it
is waiting for. The probe server turns it into `/healthz` and `/readyz`, one line each.

A worker without HTTP routes can look alive to a metrics scrape while its loop is stuck (a
deadlock, a hung client call): the metrics thread keeps answering. So liveness is "the loop
beat recently", not "the process answers".
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Pulse:
    alive: bool
    ready: bool
    line: str


class Heartbeat:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        # Starting counts as a beat: a worker is alive while it connects, not yet ready.
        self._last = clock()
        self._started = False
        self._waiting_for: set[str] = set()
        self._facts: dict[str, object] = {}

    def beat(self, **facts: object) -> None:
        """The loop turned; `facts` (counters, positions) are shown in the status line."""
        self._last = self._clock()
        self._started = True
        self._facts.update(facts)

    def waiting_for(self, dependency: str) -> None:
        """A call to `dependency` failed and is being retried: alive, not ready."""
        self._last = self._clock()
        self._waiting_for.add(dependency)

    def reached(self, dependency: str) -> None:
        """A call to `dependency` succeeded again."""
        self._waiting_for.discard(dependency)

    def pulse(self, service: str, max_silence_s: float) -> Pulse:
        silent_for = self._clock() - self._last
        alive = silent_for <= max_silence_s
        ready = alive and self._started and not self._waiting_for
        if not alive:
            state = f"stalled: no loop for {silent_for:.0f} s (limit {max_silence_s:.0f} s)"
        elif self._waiting_for:
            state = f"waiting for {', '.join(sorted(self._waiting_for))}"
        elif not self._started:
            state = "starting"
        else:
            state = "ok"
        # list() copies in one step: the loop's thread may add a fact meanwhile.
        facts = " ".join(f"{name}={value}" for name, value in list(self._facts.items()))
        line = f"{service} {state}; last loop {silent_for:.1f} s ago" + (
            f"; {facts}" if facts else ""
        )
        return Pulse(alive, ready, line)


heartbeat = Heartbeat()
"""The process's heartbeat: one worker loop per process, like the metrics registry."""
