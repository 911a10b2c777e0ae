"""The health service's own world (see `world.py`), shared by the live tests of this folder;
each test leaves it fully synchronized, as it found it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from reservesync.topics import REGISTRY
from support.databases import fresh_database
from support.stack import Endpoints

from health.builders import registry
from health.world import Webhook, World, own_kafka


@pytest.fixture(scope="module")
def world(endpoints: Endpoints) -> Iterator[World]:
    with (
        own_kafka(endpoints.kafka_passwords()) as bootstrap,
        fresh_database(endpoints) as database,
        Webhook().serving() as webhook,
    ):
        found = World(endpoints, bootstrap, database, webhook)
        try:
            found.start_writer()
            # What the chain-listener announces at its start: the six contracts, all on chain.
            asyncio.run(found.publish(REGISTRY.name, registry(endpoints.deployment)))
            found.start_health()
            yield found
        finally:
            found.stop()
