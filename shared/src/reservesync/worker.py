"""Running a worker service (no HTTP routes): structured logs, the probe server (`/metrics`,
`/healthz`, `/readyz`), and a stop event that SIGTERM/SIGINT set, so the worker finishes its
batch and exits cleanly."""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
import time
from collections.abc import Awaitable, Callable

from reservesync import logging as structured_logging
from reservesync.heartbeat import heartbeat
from reservesync.probe_server import ProbeServer
from reservesync.settings import ServiceSettings

log = logging.getLogger("reservesync.worker")


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
    if settings.pulse_log_interval_s:
        _log_pulse_every(service, settings.pulse_log_interval_s, settings.liveness_max_silence_s)
    asyncio.run(_until_signalled(work))


def _log_pulse_every(service: str, interval_s: float, max_silence_s: float) -> None:
    """The heartbeat's line in the log now and then, from a thread of its own: a stuck event
    loop still gets its "stalled" line written."""

    def report() -> None:
        while True:
            time.sleep(interval_s)
            pulse = heartbeat.pulse(service, max_silence_s)
            level = logging.INFO if pulse.alive else logging.ERROR
            log.log(level, pulse.line, extra={"alive": pulse.alive, "ready": pulse.ready})

    threading.Thread(target=report, name="pulse-log", daemon=True).start()


async def _until_signalled(work: Callable[[asyncio.Event], Awaitable[None]]) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await work(stop)
