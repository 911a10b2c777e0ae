"""The application database and one login role per service (least privilege, SPEC section 5).

Table-level grants belong to the migrations; this only creates the database and the roles.
"""

from __future__ import annotations

import asyncpg

from devstack.postgres import DATABASE

# role -> what it is for; the names are fixed because the migrations grant to them.
ROLES = {
    "rs_migrator": "owns the schema and runs Alembic migrations",
    "rs_writer": "the db-writer: inserts and updates rows, no DDL",
    "rs_health": "the health service: reads counters and offsets",
    "rs_api": "the realtime API: reads through row-level security",
    "rs_oracle_logger": "the oracle-logger: its idempotency and used-signature tables only",
}


# role -> the `.stack/env` key of its URL (`DATABASE_URL` is the migrator's: it owns the schema).
ENV_KEYS = {
    "rs_migrator": "DATABASE_URL",
    "rs_writer": "DB_WRITER_DATABASE_URL",
    "rs_health": "HEALTH_DATABASE_URL",
    "rs_api": "API_DATABASE_URL",
    "rs_oracle_logger": "ORACLE_LOGGER_DATABASE_URL",
}


def url(role: str, password: str, port: int, host: str = "127.0.0.1") -> str:
    return f"postgresql://{role}:{password}@{host}:{port}/{DATABASE}"


async def provision(admin_url: str, passwords: dict[str, str]) -> None:
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
    await create(admin_url, DATABASE)


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
            f"GRANT CONNECT ON DATABASE {name} TO rs_writer, rs_health, rs_api, rs_oracle_logger;"
            "ALTER SCHEMA public OWNER TO rs_migrator;"
            "REVOKE CREATE ON SCHEMA public FROM PUBLIC;"
        )
    finally:
        await app.close()
