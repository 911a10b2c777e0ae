"""Health as a real process cuts off stalled request bodies (`HTTP_BODY_TIMEOUT_S`)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from devstack import services

from tests.support.slow_bodies import assert_cut_off
from tests.support.stack import Endpoints

PREFIX = "health-slow-bodies"
DEADLINE_S = 3.0


@pytest.fixture(scope="module")
def health_url(endpoints: Endpoints) -> Iterator[str]:
    services.stop(["health"], prefix=PREFIX)
    overrides = {"HTTP_BODY_TIMEOUT_S": str(DEADLINE_S)}
    try:
        yield services.start(["health"], overrides, stack=endpoints.env(), prefix=PREFIX)[
            "HEALTH_URL"
        ]
    finally:
        services.stop(["health"], prefix=PREFIX)


@pytest.mark.parametrize(("method", "path"), [("GET", "/healthz"), ("POST", "/v1/health")])
async def test_stalled_bodies_are_closed_and_health_still_answers(
    health_url: str, method: str, path: str
) -> None:
    outcomes = await assert_cut_off(health_url, method, path, deadline_s=DEADLINE_S)
    assert all(o.status is not None and o.status < 500 for o in outcomes), outcomes
