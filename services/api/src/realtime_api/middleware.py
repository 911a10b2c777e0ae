"""Around every request: its id, the rate limit, the access log, the latency histogram, and
the last-resort JSON 500 (so even a bug answers in the error shape, with the request id).

Pure ASGI rather than Starlette's BaseHTTPMiddleware: it adds no task or stream per request,
which matters at hundreds of requests per second on two cores.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Iterable
from ipaddress import IPv4Network, IPv6Network, ip_address

from reservesync.http_errors import encoded
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from realtime_api import metrics
from realtime_api.ratelimit import RateLimiter, retry_after

log = logging.getLogger("realtime_api.access")

_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
REQUEST_ID_HEADER = "x-request-id"


class RequestContext:
    def __init__(
        self,
        app: ASGIApp,
        *,
        limiter: RateLimiter,
        limited_prefix: str,
        known_paths: Iterable[str],
        trusted_proxies: Iterable[IPv4Network | IPv6Network] = (),
        access_log: bool = True,
    ) -> None:
        self.app = app
        self._limiter = limiter
        self._limited_prefix = limited_prefix
        self._known_paths = frozenset(known_paths)
        self._trusted = tuple(trusted_proxies)
        self._access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = _incoming_request_id(scope) or uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        client = self._client(scope)
        answer = _Answer(send, request_id)
        try:
            wait = self._rate_limited(scope, client)
            if wait:
                metrics.RATE_LIMITED.labels(self._route_label(scope)).inc()
                await _json(
                    answer,
                    429,
                    "rate_limited",
                    f"more than {self._limiter.rate:g} requests per second; slow down",
                    request_id=request_id,
                    headers=[(b"retry-after", retry_after(wait).encode())],
                )
            else:
                await self.app(scope, receive, answer)
        except Exception:
            log.exception("unhandled error", extra={"request_id": request_id})
            if not answer.started:
                error = "an internal error occurred"
                await _json(answer, 500, "internal_error", error, request_id=request_id)
        finally:
            self._record(scope, answer.status, time.perf_counter() - started, request_id, client)

    def _rate_limited(self, scope: Scope, client: str) -> float:
        """Seconds the client must wait first (0: go ahead); probes and metrics are never
        limited."""
        if self._limiter.enabled and scope["path"].startswith(self._limited_prefix):
            return self._limiter.acquire(client)
        return 0.0

    def _record(
        self, scope: Scope, status: int, elapsed: float, request_id: str, client: str
    ) -> None:
        route = self._route_label(scope)
        metrics.REQUEST_SECONDS.labels(route, scope["method"], str(status)).observe(elapsed)
        if self._access_log:
            log.info(
                "request",
                extra={
                    "request_id": request_id,
                    "method": scope["method"],
                    "route": route,
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 2),
                    "client": client,
                },
            )

    def _route_label(self, scope: Scope) -> str:
        """The path when it is one of the app's routes (none has path parameters, so the path
        is the template), else "unmatched": a label per made-up path would grow the metrics
        without bound."""
        path: str = scope["path"]
        return path if path in self._known_paths else "unmatched"

    def _client(self, scope: Scope) -> str:
        peer = scope.get("client")
        host = str(peer[0]) if peer else "unknown"
        if not self._is_trusted(host):
            return host
        # Behind our own proxies the client is the nearest address they did not add.
        for name, value in scope["headers"]:
            if name == b"x-forwarded-for":
                hops: list[str] = [hop.strip() for hop in value.decode("latin-1").split(",")]
                for hop in reversed(hops):
                    if hop and not self._is_trusted(hop):
                        return hop
        return host

    def _is_trusted(self, host: str) -> bool:
        if not self._trusted:
            return False
        try:
            address = ip_address(host)
        except ValueError:
            return False
        return any(address in network for network in self._trusted)


class _Answer:
    """The app's `send`, with the request id added to the response and its status kept (500
    until a response starts: an exception before that is answered here)."""

    def __init__(self, send: Send, request_id: str) -> None:
        self._send = send
        self._header = (REQUEST_ID_HEADER.encode(), request_id.encode())
        self.status = 500
        self.started = False

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self.started = True
            message["headers"] = [*message.get("headers", []), self._header]
        await self._send(message)


def _incoming_request_id(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == REQUEST_ID_HEADER.encode():
            text = value.decode("latin-1")
            # Anything else (spaces, a megabyte) would land in logs as given: make our own.
            return text if _REQUEST_ID.fullmatch(text) else None
    return None


async def _json(
    send: Send,
    status: int,
    error: str,
    message: str,
    *,
    request_id: str,
    headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    body = encoded(error, message, request_id)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
