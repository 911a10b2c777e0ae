"""`python -m health_monitor`: the health score, lag, reserves and alerts over HTTP (`/v1/health`,
the dashboard, `/metrics`), computed from the topics, the chain and the database."""

from __future__ import annotations

from reservesync import cli
from reservesync import logging as structured_logging
from reservesync.http import serve

from health_monitor.app import create_app
from health_monitor.config import Settings


def main(argv: list[str] | None = None) -> None:
    settings = cli.parse("python -m health_monitor", __doc__, Settings, argv)
    structured_logging.configure("health", settings.log_level)
    serve(create_app(settings), settings.http_host, settings.http_port, settings.log_level)


if __name__ == "__main__":
    main()
