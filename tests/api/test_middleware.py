"""Who a client is for the rate limiter, behind trusted proxies and not."""

from __future__ import annotations

from ipaddress import ip_network

import httpx
from realtime_api.middleware import RequestContext
from realtime_api.ratelimit import RateLimiter
from starlette.types import Receive, Scope, Send


async def ok(_scope: Scope, _receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"{}"})


def limited(peer: str) -> httpx.AsyncClient:
    """One request per client, ever (burst 1, no refill to speak of)."""
    app = RequestContext(
        ok,
        limiter=RateLimiter(rate=1e-6, burst=1, max_clients=100),
        limited_prefix="/api",
        known_paths=["/api/x"],
        trusted_proxies=[ip_network("10.0.0.0/8")],
        access_log=False,
    )
    transport = httpx.ASGITransport(app=app, client=(peer, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://api.test")


async def test_behind_a_trusted_proxy_each_forwarded_client_has_its_bucket() -> None:
    async with limited("10.1.2.3") as http:
        for client in ("203.0.113.7", "203.0.113.8"):
            headers = {"X-Forwarded-For": f"{client}, 10.9.9.9"}
            assert (await http.get("/api/x", headers=headers)).status_code == 200
            assert (await http.get("/api/x", headers=headers)).status_code == 429


async def test_an_untrusted_peer_cannot_pick_its_identity() -> None:
    async with limited("198.51.100.1") as http:
        first = await http.get("/api/x", headers={"X-Forwarded-For": "203.0.113.7"})
        second = await http.get("/api/x", headers={"X-Forwarded-For": "203.0.113.99"})
    assert (first.status_code, second.status_code) == (200, 429)
    assert second.headers["retry-after"]
    assert second.json()["error"] == "rate_limited"


async def test_paths_outside_the_api_are_never_limited() -> None:
    async with limited("198.51.100.1") as http:
        statuses = [(await http.get("/healthz")).status_code for _ in range(3)]
    assert statuses == [200, 200, 200]
