"""Running a worker service (no HTTP routes): structured logs, the Prometheus endpoint, and a
stop event that SIGTERM/SIGINT set, so the worker finishes its batch and exits cleanly."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable

from prometheus_client import start_http_server

from reservesync import logging as structured_logging
from reservesync.settings import ServiceSettings


def run(
    service: str, settings: ServiceSettings, work: Callable[[asyncio.Event], Awaitable[None]]
) -> None:
    """`work(stop)` is called inside the event loop (clients such as aiokafka's need one)."""
    structured_logging.configure(service, settings.log_level)
    if settings.metrics_port:
        start_http_server(settings.metrics_port, addr=settings.metrics_host)
    asyncio.run(_until_signalled(work))


async def _until_signalled(work: Callable[[asyncio.Event], Awaitable[None]]) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await work(stop)
