"""A database of its own per fault test, so what the session's pipeline writes cannot mask a
lost or duplicated row."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from support import databases
from support.databases import FreshDatabase
from support.stack import Endpoints


@pytest.fixture
def fresh_database(endpoints: Endpoints) -> Iterator[FreshDatabase]:
    with databases.fresh_database(endpoints) as fresh:
        yield fresh
