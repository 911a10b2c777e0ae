"""Entrypoint: `python -m db_writer`."""

from __future__ import annotations

import asyncio
import signal

from prometheus_client import start_http_server
from reservesync import logging as structured_logging

from db_writer.config import Settings
from db_writer.consumer import DbWriter


async def _run(settings: Settings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await DbWriter(settings).run(stop)


def main() -> None:
    settings = Settings()
    structured_logging.configure("db-writer", settings.log_level)
    if settings.metrics_port:
        start_http_server(settings.metrics_port, addr=settings.metrics_host)
    asyncio.run(_run(settings))


if __name__ == "__main__":
    main()
