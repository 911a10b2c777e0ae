"""A database of its own per fault test, so what the session's pipeline writes cannot mask a
lost or duplicated row."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.databases import FreshDatabase, fresh_database
from tests.support.stack import Endpoints


@pytest.fixture(name="fresh_database")
def _fresh_database(endpoints: Endpoints) -> Iterator[FreshDatabase]:
    with fresh_database(endpoints) as fresh:
        yield fresh
