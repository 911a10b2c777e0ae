"""A database of its own, for tests that must count every row they cause."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Iterator
from dataclasses import dataclass

import asyncpg
from devstack import database
from reservesync.db.migrate import upgrade

from tests.support.stack import Endpoints


@dataclass(frozen=True)
class FreshDatabase:
    name: str
    writer_url: str
    migrator_url: str
    api_url: str
    health_url: str


def _on(url: str, name: str) -> str:
    return url.rsplit("/", 1)[0] + f"/{name}"


@contextlib.contextmanager
def fresh_database(endpoints: Endpoints) -> Iterator[FreshDatabase]:
    """A new database on the stack's server, migrated, dropped afterwards."""
    name = f"reservesync_t_{secrets.token_hex(4)}"
    asyncio.run(database.create(endpoints.admin_url, name))
    fresh = FreshDatabase(
        name=name,
        writer_url=_on(endpoints.database_urls["rs_writer"], name),
        migrator_url=_on(endpoints.migrator_url, name),
        api_url=_on(endpoints.database_urls["rs_api"], name),
        health_url=_on(endpoints.database_urls["rs_health"], name),
    )
    try:
        upgrade(fresh.migrator_url)
        yield fresh
    finally:
        asyncio.run(_drop(endpoints.admin_url, name))


async def _drop(admin_url: str, name: str) -> None:
    connection = await asyncpg.connect(admin_url)
    try:
        await connection.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    finally:
        await connection.close()


async def table_checksums(url: str) -> dict[str, str]:
    """Every table of the schema (and the list of tables, functions and policies) as a digest
    of its rows: equal before and after means nothing was written, dropped or altered."""
    connection = await asyncpg.connect(url)
    try:
        tables = [
            r["tablename"]
            for r in await connection.fetch(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
            )
        ]
        sums = {
            table: await connection.fetchval(
                f"SELECT md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), '')) "
                f"FROM {table} t"
            )
            for table in tables
        }
        sums["<catalog>"] = await connection.fetchval(
            "SELECT md5(string_agg(x, ',' ORDER BY x)) FROM ("
            " SELECT 'table:' || tablename AS x FROM pg_tables WHERE schemaname = 'public'"
            " UNION ALL SELECT 'function:' || proname FROM pg_proc p"
            "   JOIN pg_namespace n ON n.oid = p.pronamespace WHERE nspname = 'public'"
            " UNION ALL SELECT 'policy:' || tablename || '.' || policyname FROM pg_policies) c"
        )
        return sums
    finally:
        await connection.close()


async def offsets_written(connection: asyncpg.Connection) -> int:
    """How far a writer has come through its topics: the sum of its stored next offsets (grows
    with every committed batch, whatever it wrote)."""
    return int(await connection.fetchval("SELECT coalesce(sum(next_offset), 0) FROM sink_offsets"))
