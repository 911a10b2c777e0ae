"""What every HTTP service serves besides its own routes: liveness, readiness and metrics, and
the deadline on reading request bodies."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from contextlib import AbstractAsyncContextManager
from typing import Any

import uvicorn
from fastapi import FastAPI, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from reservesync.body_deadline import BodyDeadline

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]
"""What FastAPI's `lifespan=` takes: the app's resources, open while it serves."""
ReadinessCheck = Callable[[], Awaitable[None]]
"""Raises when a dependency is unreachable; its message becomes the readiness report."""


def add_probes(app: FastAPI, checks: Mapping[str, ReadinessCheck]) -> None:
    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "up"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> JSONResponse:
        report: dict[str, str] = {}
        for name, check in checks.items():
            try:
                await check()
                report[name] = "ok"
            except Exception as exc:
                report[name] = f"unreachable: {exc}"
        ready = all(status == "ok" for status in report.values())
        return JSONResponse({"ready": ready, "checks": report}, status_code=200 if ready else 503)

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


def add_body_deadline(app: FastAPI, timeout_s: float) -> None:
    """408 for a body that has not fully arrived `timeout_s` after the request began."""
    app.add_middleware(BodyDeadline, timeout_s=timeout_s)


MAX_REQUEST_HEAD_BYTES = 64 * 1024
"""The longest request line and headers a service reads before refusing the request (400).
uvicorn's h11 applies its limit (16 KiB by default) only while a head is incomplete: a 50 KB
URL that arrived in one read reached the route and got its error, and the same URL arriving
in several reads was refused and the connection reset. Up to this size every head is read
however it arrives, so a long hostile value gets the service's own error every time."""


def serve(app: FastAPI, host: str, port: int, log_level: str) -> None:
    """`log_config=None`: uvicorn installs no plain-text handlers of its own, so its lines go
    through the JSON formatter `reservesync.logging.configure` set on the root logger."""
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level=log_level.lower(),
        access_log=False,
        log_config=None,
        h11_max_incomplete_event_size=MAX_REQUEST_HEAD_BYTES,
    )


def run_alongside(
    stack: contextlib.AsyncExitStack, work: Coroutine[Any, Any, None], name: str
) -> None:
    """Run `work` as a task for as long as `stack` is open (a lifespan's background loop):
    closing the stack cancels it and waits until it has stopped."""
    task = asyncio.create_task(work, name=name)

    async def cancel() -> None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    stack.push_async_callback(cancel)
