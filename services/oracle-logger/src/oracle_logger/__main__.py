"""`python -m oracle_logger`: the oracles' HTTP entry (`POST /v1/operations`, `/v1/state`)
that publishes to Kafka with acks=all and idempotence; optionally pulls the oracle's `/users`."""

from __future__ import annotations

from reservesync import cli
from reservesync import logging as structured_logging
from reservesync.http import serve

from oracle_logger.app import create_app
from oracle_logger.config import Settings


def main(argv: list[str] | None = None) -> None:
    settings = cli.parse("python -m oracle_logger", __doc__, Settings, argv)
    structured_logging.configure("oracle-logger", settings.log_level)
    serve(create_app(settings), settings.http_host, settings.http_port, settings.log_level)


if __name__ == "__main__":
    main()
