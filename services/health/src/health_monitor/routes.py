"""The health service's own routes: the JSON score, its recent history, alerts, dead letters,
and the dashboard page that draws them."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from importlib import resources
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, RedirectResponse
from reservesync.http_errors import ApiError, documented
from reservesync.messages import Alert

from health_monitor.deps import MonitorDep
from health_monitor.domain.dead_letters import component_of
from health_monitor.models import (
    DeadLetterEntry,
    HealthReport,
    History,
    LagPoint,
    PartitionHistory,
    ReservesReport,
    ScorePoint,
)

router = APIRouter()
WARMING_UP = documented({503: "no evaluation has finished yet (the service just started)"}, 503)


def _warming_up() -> ApiError:
    return ApiError(
        503,
        "warming_up",
        "the first health evaluation has not finished yet",
        headers={"Retry-After": "5"},
    )


@router.get("/v1/health", response_model=HealthReport, responses=WARMING_UP)
async def health(monitor: MonitorDep) -> HealthReport:
    """The latest evaluation: score, components, the sync matrix, lag, usage and alerts."""
    if monitor.latest is None:
        raise _warming_up()
    return monitor.latest


@router.get("/v1/reserves", response_model=ReservesReport, responses=WARMING_UP)
async def reserves(monitor: MonitorDep) -> ReservesReport:
    """The reserves from both chains (supply against the BTC Bitcoin shows) and the users
    whose synced sats the oracle put on chain disagree with Bitcoin (not part of the score)."""
    latest = monitor.latest
    if latest is None or latest.reserves is None:
        raise _warming_up()
    return latest.reserves


@router.get("/v1/history", response_model=History)
async def history(
    monitor: MonitorDep,
    minutes: Annotated[float, Query(gt=0, le=1440, description="how far back")] = 10,
) -> History:
    """The score and the lag of every watched partition over the last minutes."""
    since = datetime.now(UTC).timestamp() - 60 * minutes
    lag = []
    for group in monitor.settings.health_groups:
        for (topic, partition), points in monitor.lag.recent(group).items():
            lag.append(
                PartitionHistory(
                    group=group,
                    topic=topic,
                    partition=partition,
                    points=[
                        LagPoint(at=datetime.fromtimestamp(p.at, UTC), lag=p.lag, seconds=p.seconds)
                        for p in points
                        if p.at >= since
                    ],
                )
            )
    return History(
        score=[ScorePoint(at=at, score=s) for at, s in monitor.scores if at.timestamp() >= since],
        lag=lag,
    )


@router.get("/v1/alerts", response_model=list[Alert])
async def alerts(
    monitor: MonitorDep, limit: Annotated[int, Query(ge=1, le=200)] = 50
) -> list[Alert]:
    """Alerts seen on `rbtc.alerts.v1` (this service's and others'), newest first."""
    return list(reversed(monitor.parts.feed.recent))[:limit]


@router.get("/v1/dead-letters", response_model=list[DeadLetterEntry])
async def dead_letters(
    monitor: MonitorDep, limit: Annotated[int, Query(ge=1, le=200)] = 50
) -> list[DeadLetterEntry]:
    """Recent dead letters, newest first, without their payloads."""
    recent = list(reversed(monitor.parts.letters.recent))[:limit]
    return [
        DeadLetterEntry(
            source_topic=e.letter.source_topic,
            partition=e.letter.partition,
            offset=e.letter.offset,
            key=e.letter.key,
            error=e.letter.error,
            service=e.letter.service,
            failed_at=e.letter.failed_at,
            component=component_of(e.letter.source_topic),
        )
        for e in recent
    ]


@router.get("/", include_in_schema=False)
async def root() -> RedirectResponse:
    return RedirectResponse("/dashboard")


# HEAD too: uptime checks and `curl -I` ask with it.
@router.api_route(
    "/dashboard", methods=["GET", "HEAD"], response_class=HTMLResponse, include_in_schema=False
)
async def dashboard() -> HTMLResponse:
    return HTMLResponse(_page(), headers={"Cache-Control": "no-store"})


@cache
def _page() -> str:
    return resources.files("health_monitor").joinpath("dashboard.html").read_text()
