"""`python -m realtime_api`: the realtime read endpoints (`/api/realtime/...`) over the
database."""

from __future__ import annotations

from reservesync import cli
from reservesync import logging as structured_logging
from reservesync.http import serve

from realtime_api.app import create_app
from realtime_api.config import Settings


def main(argv: list[str] | None = None) -> None:
    settings = cli.parse("python -m realtime_api", __doc__, Settings, argv)
    structured_logging.configure("api", settings.log_level)
    serve(create_app(settings), settings.http_host, settings.http_port, settings.log_level)


if __name__ == "__main__":
    main()
