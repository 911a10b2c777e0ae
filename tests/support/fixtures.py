"""Fixtures several test folders share: a database of its own per test (so what the session's
pipeline writes cannot mask a lost or duplicated row), and the seed's world played by an oracle
in legacy mode (operations performed, never logged) against the real chain and the stack's
regtest btcd, for the oracle simulator's tests and the oracle-logger's reconciliation."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from devstack.protocol import Protocol
from scenarios.oracle.running import RunningOracle, running_oracle
from scenarios.oracle.seed import SeedWorld, play

from tests.support import databases
from tests.support.databases import FreshDatabase
from tests.support.stack import Endpoints


@pytest.fixture(scope="module")
async def seeded(
    endpoints: Endpoints, protocol: Protocol
) -> AsyncIterator[tuple[RunningOracle, SeedWorld]]:
    async with running_oracle(protocol, endpoints.bitcoin, oracle_id="oracle-seed-test") as oracle:
        world = await play(oracle, protocol, report=lambda _line: None)
        yield oracle, world


@pytest.fixture
def fresh_database(endpoints: Endpoints) -> Iterator[FreshDatabase]:
    with databases.fresh_database(endpoints) as fresh:
        yield fresh
