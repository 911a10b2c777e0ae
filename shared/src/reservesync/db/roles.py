"""`python -m reservesync.db.roles`: the application database and one login role per service
(least privilege, SPEC section 5), idempotently: missing roles are created, existing ones get
the password given (so rotating one is running this again). Table-level grants belong to the
migrations, which grant to these fixed role names.

Run as a superuser (`POSTGRES_ADMIN_URL`): the Kubernetes Job `reservesync-db-roles`, and the
local stack. Compose runs deploy/postgres/init-roles.sh on the first start of its volume instead.
"""

from __future__ import annotations

import asyncio
import sys

import asyncpg
from pydantic import Field, SecretStr

from reservesync import cli
from reservesync.settings import ServiceSettings

DATABASE = "reservesync"
"""Fixed: the services' DATABASE_URLs and the migrations name it."""

ROLES = {
    "rs_migrator": "owns the schema and runs Alembic migrations",
    "rs_writer": "the db-writer: inserts and updates rows, no DDL",
    "rs_health": "the health service: reads counters and offsets",
    "rs_api": "the realtime API: reads through row-level security",
    "rs_oracle_logger": "the oracle-logger: its idempotency and used-signature tables only",
}
"""role -> what it is for; the names are fixed because the migrations grant to them."""


_SERVICE_ROLES = [role for role in ROLES if role != "rs_migrator"]
"""The roles that connect to use the database; the migrator owns it."""


class RolesSettings(ServiceSettings):
    postgres_admin_url: SecretStr = Field(
        description="a superuser's URL to the maintenance database (postgresql://.../postgres)"
    )
    rs_migrator_password: SecretStr = Field(description="password of rs_migrator")
    rs_writer_password: SecretStr = Field(description="password of rs_writer")
    rs_health_password: SecretStr = Field(description="password of rs_health")
    rs_api_password: SecretStr = Field(description="password of rs_api")
    rs_oracle_logger_password: SecretStr = Field(description="password of rs_oracle_logger")

    def passwords(self) -> dict[str, str]:
        return {role: getattr(self, f"{role}_password").get_secret_value() for role in ROLES}


async def provision(admin_url: str, passwords: dict[str, str], database: str = DATABASE) -> None:
    """Idempotent: creates missing roles, resets their passwords, creates the database."""
    conn = await asyncpg.connect(admin_url)
    try:
        for role in ROLES:
            exists = await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", role)
            verb = "ALTER" if exists else "CREATE"
            # Identifiers and passwords cannot be bind parameters in DDL; both are ours.
            password = passwords[role].replace("'", "''")
            await conn.execute(f"{verb} ROLE {role} LOGIN PASSWORD '{password}'")
        # The writer writes every row (its policies are USING (true)); COPY, its fast path,
        # is refused under row-level security unless the role bypasses it.
        await conn.execute("ALTER ROLE rs_writer BYPASSRLS")
    finally:
        await conn.close()
    await create(admin_url, database)


async def create(admin_url: str, name: str) -> None:
    """A database owned by the migrator, usable by the service roles (idempotent)."""
    if not name.replace("_", "").isalnum():
        raise ValueError(f"unsafe database name {name!r}")
    conn = await asyncpg.connect(admin_url)
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            await conn.execute(f"CREATE DATABASE {name} OWNER rs_migrator")
    finally:
        await conn.close()
    app = await asyncpg.connect(admin_url.rsplit("/", 1)[0] + f"/{name}")
    try:
        await app.execute(
            f"REVOKE ALL ON DATABASE {name} FROM PUBLIC;"
            f"GRANT CONNECT ON DATABASE {name} TO {', '.join(_SERVICE_ROLES)};"
            "ALTER SCHEMA public OWNER TO rs_migrator;"
            "REVOKE CREATE ON SCHEMA public FROM PUBLIC;"
        )
    finally:
        await app.close()


def main(argv: list[str] | None = None) -> int:
    settings = cli.parse("python -m reservesync.db.roles", __doc__, RolesSettings, argv)
    admin_url = settings.postgres_admin_url.get_secret_value()
    asyncio.run(provision(admin_url, settings.passwords()))
    print(f"roles {', '.join(ROLES)} and database {DATABASE} ready")
    return 0


if __name__ == "__main__":
    sys.exit(main())
