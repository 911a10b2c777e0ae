"""Session fixtures: the real stack, the migrated database, the running pipeline."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest
from devstack import services
from devstack.protocol import Protocol
from reservesync.db.migrate import upgrade

from tests.support.stack import Endpoints, container_stack, docker_engine_answers, local_stack

TEST_PREFIX = "test"
# Fixtures several folders share (a fresh database per test, the seed's world played by a legacy
# oracle).
pytest_plugins = ["tests.support.fixtures"]


STACK_FOLDERS = ("stack", "e2e")
"""Tests of the local stack itself and of the main job: each brings up a stack of its own."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test that uses a real stack is marked `stack`: `-m "not stack"` runs the rest
    (pure logic, rendering, manifests) in minutes; `make test` runs everything."""
    for item in items:
        on_stack = "endpoints" in getattr(item, "fixturenames", ())
        folder = item.path.parent.name
        if on_stack or folder in STACK_FOLDERS:
            item.add_marker(pytest.mark.stack)


@pytest.fixture(scope="session")
def endpoints() -> Iterator[Endpoints]:
    use_containers = os.environ.get("RESERVESYNC_TEST_STACK", "auto") == "containers" or (
        os.environ.get("RESERVESYNC_TEST_STACK", "auto") == "auto" and docker_engine_answers()
    )
    with container_stack() if use_containers else local_stack() as found:
        upgrade(found.migrator_url)
        yield found


@pytest.fixture(scope="session")
def pipeline(endpoints: Endpoints) -> Iterator[Endpoints]:
    """chain-listener and db-writer running as real processes against the stack."""
    names = ["chain-listener", "db-writer"]
    overrides = {
        "CHAIN_CONFIRMATIONS": "1",
        "CHAIN_POLL_INTERVAL_S": "0.2",
        "CHAIN_TRANSACTIONAL_ID": "chain-listener-tests",
    }
    services.start(names, overrides, stack=endpoints.env(), prefix=TEST_PREFIX)
    try:
        yield endpoints
    finally:
        services.stop(names, prefix=TEST_PREFIX)


@pytest.fixture(scope="session")
def protocol(endpoints: Endpoints) -> Protocol:
    return Protocol(endpoints.rpc_url, endpoints.deployment)


@pytest.fixture
async def db(endpoints: Endpoints) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(endpoints.migrator_url)
    try:
        yield connection
    finally:
        await connection.close()
