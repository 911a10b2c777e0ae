"""The health service's verdict for the demo and the drills: its score and its seed-format
report, from an evaluation made after the moment of asking and once it has read the
chain through the head it saw then (so it describes the settled pipeline, not an earlier cycle)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from health_monitor.report import fetch, render


@dataclass(frozen=True)
class HealthVerdict:
    score: float
    markdown: str

    @property
    def score_text(self) -> str:
        return f"{self.score:.1f}%"


async def fresh(health_url: str, *, within_s: float = 90) -> HealthVerdict:
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
                return HealthVerdict(report.score, render(report))
        if time.monotonic() > deadline:
            raise TimeoutError(f"the health service computed nothing new in {within_s:.0f}s")
        await asyncio.sleep(0.5)
