"""The API as a real process cuts off stalled request bodies (`HTTP_BODY_TIMEOUT_S`)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from devstack import services

from tests.support.api_process import API
from tests.support.slow_bodies import assert_cut_off
from tests.support.stack import Endpoints

PREFIX = "api-slow-bodies"
DEADLINE_S = 3.0


@pytest.fixture(scope="module")
def api_url(endpoints: Endpoints) -> Iterator[str]:
    services.stop([API], prefix=PREFIX)
    overrides = {"HTTP_BODY_TIMEOUT_S": str(DEADLINE_S), "API_RATE_LIMIT_PER_S": "0"}
    try:
        yield services.start([API], overrides, stack=endpoints.env(), prefix=PREFIX)["API_URL"]
    finally:
        services.stop([API], prefix=PREFIX)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/healthz"),
        ("POST", "/api/realtime/owner-challenge?address=0x" + "ab" * 20),
    ],
)
async def test_stalled_bodies_are_closed_and_the_api_still_answers(
    api_url: str, method: str, path: str
) -> None:
    # No route of the API reads a body: it answers at once and closes the connection instead
    # of draining a body that never ends.
    outcomes = await assert_cut_off(api_url, method, path, deadline_s=DEADLINE_S)
    assert all(o.status is not None and o.status < 500 for o in outcomes), outcomes
