"""Entrypoint: `python -m health_monitor`."""

from __future__ import annotations

from reservesync import logging as structured_logging
from reservesync.http import serve

from health_monitor.app import create_app
from health_monitor.config import Settings


def main() -> None:
    settings = Settings()
    structured_logging.configure("health", settings.log_level)
    serve(create_app(settings), settings.http_host, settings.http_port, settings.log_level)


if __name__ == "__main__":
    main()
