"""The health service's verdict for the demo: its score and its seed-format report, computed
after the moment of asking (so it describes the settled pipeline, not an earlier cycle)."""

from __future__ import annotations

import asyncio
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx


@dataclass(frozen=True)
class HealthReport:
    score: float
    markdown: str

    @property
    def score_text(self) -> str:
        return f"{self.score:.1f}%"


async def fresh(health_url: str, *, within_s: float = 60) -> HealthReport:
    asked = datetime.now(UTC)
    deadline = time.monotonic() + within_s
    async with httpx.AsyncClient(base_url=health_url, timeout=10) as http:
        while True:
            response = await http.get("/v1/health")
            if response.status_code == 200:
                document = response.json()
                computed = datetime.fromisoformat(document["computed_at"])
                if computed > asked:
                    break
            if time.monotonic() > deadline:
                raise TimeoutError(f"the health service computed nothing new in {within_s:.0f}s")
            await asyncio.sleep(0.5)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "health_monitor.report",
        "--url",
        health_url,
        stdout=asyncio.subprocess.PIPE,
    )
    output, _ = await process.communicate()
    return HealthReport(float(document["score"]), output.decode())
