"""The health service's verdict for the demo and the drills: its score and its seed-format
report, from an evaluation made after the moment of asking and once it has read the
chain through the head it saw then (so it describes the settled pipeline, not an earlier cycle)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from health_monitor.models import HealthReport
from health_monitor.report import fetch, render


@dataclass(frozen=True)
class HealthVerdict:
    score: float
    markdown: str
    report: HealthReport

    @property
    def score_text(self) -> str:
        return f"{self.score:.1f}%"


def _own_alerts(report: HealthReport) -> list[str]:
    return [a.alert_id for a in report.alerts if a.alert_id.startswith("health:")]


async def fresh(health_url: str, *, within_s: float = 90, quiet: bool = False) -> HealthVerdict:
    """The first evaluation made after asking that has read the world through the head it saw
    then. `quiet`: at 100 %, also once health's own alerts of an earlier state have resolved
    (or at the deadline, with them), so a healthy report does not list a problem already gone."""
    asked = datetime.now(UTC)
    deadline = time.monotonic() + within_s
    head: int | None = None
    while True:
        report = await asyncio.to_thread(fetch, health_url, 30)
        if report.sources_ready and report.computed_at > asked:
            # The world as it was when asked: health has read the chain through its head then.
            head = report.world.chain_head if head is None else head
            read = report.world.chain_read_through
            if head is None or (read is not None and read >= head):
                verdict = HealthVerdict(report.score, render(report), report)
                if not quiet or report.score < 100 or not _own_alerts(report):
                    return verdict
                if time.monotonic() > deadline:
                    return verdict
        if time.monotonic() > deadline:
            raise TimeoutError(f"the health service computed nothing new in {within_s:.0f}s")
        await asyncio.sleep(0.5)
