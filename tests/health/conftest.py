"""The health service's own world (see `world.py`), shared by the live tests of this folder;
each test leaves it fully synchronized, as it found it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.health.support.live_pipeline import PRODUCERS, ThreadedOracle, Webhook, World, own_kafka
from tests.support.databases import fresh_database
from tests.support.stack import Endpoints


@pytest.fixture(scope="module")
def world(endpoints: Endpoints) -> Iterator[World]:
    with (
        own_kafka(endpoints.kafka_passwords()) as bootstrap,
        fresh_database(endpoints) as database,
        Webhook().serving() as webhook,
        ThreadedOracle().serving() as oracle,
    ):
        found = World(endpoints, bootstrap, database, webhook, oracle)
        try:
            for name in PRODUCERS:
                found.start_producer(name)
            found.start_health()
            yield found
        finally:
            found.stop()
