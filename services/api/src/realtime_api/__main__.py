"""Entrypoint: `python -m realtime_api`."""

from __future__ import annotations

from reservesync import logging as structured_logging
from reservesync.http import serve

from realtime_api.app import create_app
from realtime_api.config import Settings


def main() -> None:
    settings = Settings()
    structured_logging.configure("api", settings.log_level)
    serve(create_app(settings), settings.http_host, settings.http_port, settings.log_level)


if __name__ == "__main__":
    main()
