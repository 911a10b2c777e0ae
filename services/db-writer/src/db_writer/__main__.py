"""`python -m db_writer`: consumes the chain, oracle and registry topics and writes them into
PostgreSQL exactly once (offsets stored in the same transaction as the rows)."""

from __future__ import annotations

from reservesync import cli, worker

from db_writer.config import Settings
from db_writer.consumer import DbWriter


def main(argv: list[str] | None = None) -> None:
    settings = cli.parse("python -m db_writer", __doc__, Settings, argv)
    worker.run("db-writer", settings, lambda stop: DbWriter(settings).run(stop))


if __name__ == "__main__":
    main()
