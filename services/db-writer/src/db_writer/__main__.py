"""Entrypoint: `python -m db_writer`."""

from __future__ import annotations

from reservesync import worker

from db_writer.config import Settings
from db_writer.consumer import DbWriter


def main() -> None:
    settings = Settings()
    worker.run("db-writer", settings, lambda stop: DbWriter(settings).run(stop))


if __name__ == "__main__":
    main()
