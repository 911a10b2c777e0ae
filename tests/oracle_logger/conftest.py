"""Fixtures of the oracle-logger tests: the app in-process against the real Kafka."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from tests.oracle_logger.support import harness as ol
from tests.support.stack import Endpoints


@pytest.fixture(scope="module")
async def service(endpoints: Endpoints) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """One running app (lifespan started: a real producer) for a whole test module."""
    async with ol.running(ol.settings(endpoints)) as started:
        yield started


@pytest.fixture
def http(service: tuple[FastAPI, httpx.AsyncClient]) -> httpx.AsyncClient:
    return service[1]


@pytest.fixture
def app(service: tuple[FastAPI, httpx.AsyncClient]) -> FastAPI:
    return service[0]
