"""The realtime API as a real process (devstack's service runner), ready when /readyz says so."""

from __future__ import annotations

import time

import httpx
from devstack import services

from tests.support.stack import Endpoints

API = "api"
ROUTES = (
    "balances",
    "transactions",
    "emergency-burns",
    "yield-status",
    "sync-status",
    "proof-of-reserves",
    "proof-of-reserves/proof",
    "disputes",
    "bitcoin-addresses",
)
"""The read endpoints under /api/realtime (all GET); POST /owner-challenge besides."""
OPERATIONS = (
    *(f"GET /api/realtime/{route}" for route in ROUTES),
    "POST /api/realtime/owner-challenge",
)


def wait_ready(url: str, within: float = 60.0) -> None:
    """Until /readyz says the pool is open and the first snapshot is built."""
    deadline = time.monotonic() + within
    last = ""
    while time.monotonic() < deadline:
        try:
            response = httpx.get(f"{url}/readyz", timeout=2)
            if response.status_code == 200:
                return
            last = response.text
        except httpx.HTTPError as exc:
            last = repr(exc)
        time.sleep(0.2)
    raise AssertionError(f"the API at {url} did not become ready: {last}")


def start_api(endpoints: Endpoints, database_url: str, prefix: str, **settings: str) -> str:
    overrides = {
        "DATABASE_URL": database_url,
        "API_SNAPSHOT_CHECK_INTERVAL_S": "0.2",
        "API_AGGREGATES_MIN_INTERVAL_S": "0",
        "API_RESERVES_MIN_INTERVAL_S": "0",
        **settings,
    }
    url = services.start([API], overrides, stack=endpoints.env(), prefix=prefix)["API_URL"]
    wait_ready(url)
    return url
