"""The writer's own accounting of where a transaction's time goes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from db_writer.metrics import StepClock
from prometheus_client import REGISTRY


def _seconds(step: str) -> float:
    value = REGISTRY.get_sample_value("db_writer_write_step_seconds_total", {"step": step})
    return value or 0.0


def test_each_step_is_charged_the_time_since_the_step_before() -> None:
    ticks: Iterator[float] = iter([10.0, 10.5, 12.0, 12.25])
    before = {step: _seconds(step) for step in ("lock", "claims", "commit")}
    clock = StepClock(lambda: next(ticks))
    clock.done("lock")
    clock.done("claims")
    clock.done("commit")
    # Other writers of this process may have charged these steps before: compare increments.
    charged = {step: _seconds(step) - before[step] for step in before}
    assert charged == pytest.approx({"lock": 0.5, "claims": 1.5, "commit": 0.25})
    # The steps of one transaction add up to the whole of it: nothing falls between them.
    assert sum(charged.values()) == pytest.approx(12.25 - 10.0)
