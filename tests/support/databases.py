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

from support.stack import Endpoints


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
    upgrade(fresh.migrator_url)
    try:
        yield fresh
    finally:
        asyncio.run(_drop(endpoints.admin_url, name))


async def _drop(admin_url: str, name: str) -> None:
    connection = await asyncpg.connect(admin_url)
    try:
        await connection.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    finally:
        await connection.close()
