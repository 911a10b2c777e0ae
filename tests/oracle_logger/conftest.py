"""Fixtures of the oracle-logger tests: the app in-process against the real Kafka.

Helpers next to this file are imported by their file name (pytest puts this directory on the
path); mypy knows them as `oracle_logger.<file>`, hence the TYPE_CHECKING split below.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import httpx
import pytest
from fastapi import FastAPI
from support.stack import Endpoints

if TYPE_CHECKING:
    from oracle_logger import ol_harness as ol
else:
    import ol_harness as ol


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
