"""`python -m reservesync.db.migrate [upgrade|current|downgrade REVISION]`: Alembic without an
ini file, run with the migrator role's `DATABASE_URL`, printing each revision as it applies.
`downgrade` takes the revision to go back to (`0003`, `-1`, or `base` for an empty schema)."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from alembic import command
from alembic.config import Config

from reservesync import cli
from reservesync.settings import DatabaseSettings

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    url = database_url.replace("postgresql://", "postgresql+asyncpg://", 1)
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str) -> None:
    command.downgrade(alembic_config(database_url), revision)


def main(argv: list[str] | None = None) -> int:
    parser = cli.parser("python -m reservesync.db.migrate", __doc__, DatabaseSettings)
    parser.add_argument(
        "action", nargs="?", default="upgrade", choices=["upgrade", "current", "downgrade"]
    )
    parser.add_argument("revision", nargs="?", help="downgrade: the revision to go back to")
    args = parser.parse_args(argv)
    if (args.action == "downgrade") != (args.revision is not None):
        parser.error("a revision is given with downgrade, and only with it")
    settings = cli.load(parser, DatabaseSettings)
    config = alembic_config(settings.sqlalchemy_url)
    # Alembic logs "Running upgrade a -> b" per revision: that is the progress report.
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.action == "upgrade":
        command.upgrade(config, "head")
    elif args.action == "downgrade":
        command.downgrade(config, args.revision)
    else:
        command.current(config, verbose=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
