"""Running a worker service (no HTTP routes): structured logs, the probe server (`/metrics`,
`/healthz`, `/readyz`), and a stop event that SIGTERM/SIGINT set, so the worker finishes its
batch and exits cleanly."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable

from reservesync import logging as structured_logging
from reservesync.heartbeat import heartbeat
from reservesync.probe_server import ProbeServer
from reservesync.settings import ServiceSettings


def run(
    service: str, settings: ServiceSettings, work: Callable[[asyncio.Event], Awaitable[None]]
) -> None:
    """`work(stop)` is called inside the event loop (clients such as aiokafka's need one)."""
    structured_logging.configure(service, settings.log_level)
    if settings.metrics_port:
        ProbeServer(
            settings.metrics_host,
            settings.metrics_port,
            service,
            heartbeat,
            settings.liveness_max_silence_s,
        ).start()
    asyncio.run(_until_signalled(work))


async def _until_signalled(work: Callable[[asyncio.Event], Awaitable[None]]) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await work(stop)
