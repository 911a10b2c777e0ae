"""A database of its own per fault test, so what the session's pipeline writes cannot mask a
lost or duplicated row."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator

import asyncpg
import pytest
from devstack import database
from reservesync.db.migrate import upgrade
from support.databases import FreshDatabase
from support.stack import Endpoints


def _on(url: str, name: str) -> str:
    return url.rsplit("/", 1)[0] + f"/{name}"


@pytest.fixture
def fresh_database(endpoints: Endpoints) -> Iterator[FreshDatabase]:
    name = f"reservesync_t_{secrets.token_hex(4)}"
    asyncio.run(database.create(endpoints.admin_url, name))
    fresh = FreshDatabase(
        name=name,
        writer_url=_on(endpoints.database_urls["rs_writer"], name),
        migrator_url=_on(endpoints.migrator_url, name),
        api_url=_on(endpoints.database_urls["rs_api"], name),
    )
    upgrade(fresh.migrator_url)
    yield fresh
    asyncio.run(_drop(endpoints.admin_url, name))


async def _drop(admin_url: str, name: str) -> None:
    connection = await asyncpg.connect(admin_url)
    try:
        await connection.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    finally:
        await connection.close()
