"""The API as a real process over a database of its own, filled with `world` by the
db-writer's own code; a second process with a tight rate limit; and a checksum of every table,
to show that hostile requests change nothing."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import asyncpg
import httpx
import pytest
from devstack import services
from pydantic import SecretStr
from reservesync.crypto import FieldCipher
from reservesync.settings import EncryptionSettings
from support import databases
from support.databases import FreshDatabase
from support.stack import Endpoints
from support.world import World, build, write

API = "api"


def cipher_of(endpoints: Endpoints) -> FieldCipher:
    return FieldCipher.from_settings(
        EncryptionSettings(field_encryption_key=SecretStr(endpoints.field_encryption_key))
    )


@pytest.fixture(scope="package")
def world_database(endpoints: Endpoints) -> Iterator[tuple[FreshDatabase, World]]:
    with databases.fresh_database(endpoints) as fresh:
        world = build(endpoints.deployment)
        asyncio.run(write(world, fresh.writer_url, cipher_of(endpoints)))
        yield fresh, world


def wait_ready(url: str, within: float = 60.0) -> None:
    """Until /readyz says the pool is open and the first snapshot is built."""
    deadline = time.monotonic() + within
    last = ""
    while time.monotonic() < deadline:
        try:
            response = httpx.get(f"{url}/readyz", timeout=2)
            if response.status_code == 200:
                return
            last = response.text
        except httpx.HTTPError as exc:
            last = repr(exc)
        time.sleep(0.2)
    raise AssertionError(f"the API at {url} did not become ready: {last}")


def start_api(endpoints: Endpoints, database_url: str, prefix: str, **settings: str) -> str:
    overrides = {
        "DATABASE_URL": database_url,
        "API_SNAPSHOT_CHECK_INTERVAL_S": "0.2",
        "API_SNAPSHOT_MIN_INTERVAL_S": "0",
        **settings,
    }
    url = services.start([API], overrides, stack=endpoints.env(), prefix=prefix)["API_URL"]
    wait_ready(url)
    return url


@pytest.fixture(scope="package")
def api(endpoints: Endpoints, world_database: tuple[FreshDatabase, World]) -> Iterator[str]:
    """Base URL of the API over the world, without a rate limit (the fuzzer is fast)."""
    try:
        yield start_api(endpoints, world_database[0].api_url, "apitest", API_RATE_LIMIT_PER_S="0")
    finally:
        services.stop([API], prefix="apitest")


@pytest.fixture(scope="package")
def limited_api(endpoints: Endpoints, world_database: tuple[FreshDatabase, World]) -> Iterator[str]:
    """The same, limited to a burst of 3 and then 1 request per 10 s per client."""
    try:
        yield start_api(
            endpoints,
            world_database[0].api_url,
            "apilimit",
            API_RATE_LIMIT_PER_S="0.1",
            API_RATE_LIMIT_BURST="3",
        )
    finally:
        services.stop([API], prefix="apilimit")


@pytest.fixture
def client(api: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{api}/api/realtime", timeout=10) as http:
        yield http


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
