"""The API as a real process over a database of its own, filled with `support.world` by the
db-writer's own code; a second process with a tight rate limit; the served OpenAPI document
for the fuzzer."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest
import schemathesis
from devstack import services
from pydantic import SecretStr
from reservesync.crypto import FieldCipher
from reservesync.settings import EncryptionSettings

from tests.support import databases
from tests.support.api_process import API, start_api
from tests.support.databases import FreshDatabase
from tests.support.stack import Endpoints
from tests.support.world import World, build, write


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


@pytest.fixture(scope="package")
def api_schema(api: str) -> schemathesis.BaseSchema:
    """The document the running API serves, for the fuzzer."""
    return schemathesis.openapi.from_url(f"{api}/openapi.json")
