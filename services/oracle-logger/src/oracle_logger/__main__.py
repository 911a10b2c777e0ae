"""Entrypoint: `python -m oracle_logger`."""

from __future__ import annotations

from reservesync import logging as structured_logging
from reservesync.http import serve

from oracle_logger.app import create_app
from oracle_logger.config import Settings


def main() -> None:
    settings = Settings()
    structured_logging.configure("oracle-logger", settings.log_level)
    serve(create_app(settings), settings.http_host, settings.http_port, settings.log_level)


if __name__ == "__main__":
    main()
