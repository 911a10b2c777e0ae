"""How the listing endpoints (emergency burns, disputes) read: one user's page with that
user's live totals, or everyone's newest rows with the totals of the aggregates snapshot."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg

from realtime_api.deps import PageParams, Runtime, aggregates_of
from realtime_api.storage import queries
from realtime_api.storage.database import Reader


@dataclass(frozen=True)
class Listing:
    rows: list[asyncpg.Record]
    next_offset: int | None
    totals: Mapping[str, Any]
    """The user's totals columns, or the aggregates snapshot's totals (the same names)."""
    as_of: datetime
    """When the totals were read: now for one user, the snapshot's time across users."""


async def read_listing(
    reader: Reader,
    runtime: Runtime,
    address: str | None,
    page: PageParams,
    *,
    for_user: str,
    across_users: str,
) -> Listing:
    if address is None:
        snapshot = aggregates_of(runtime)
        async with reader.connection() as connection:
            rows, next_offset = await queries.fetch_page(
                connection, across_users, limit=page.limit, offset=page.offset
            )
        return Listing(rows, next_offset, snapshot.totals, snapshot.as_of)
    async with reader.connection() as connection:
        first, rows, next_offset = await queries.fetch_grouped_page(
            connection, for_user, address, limit=page.limit, offset=page.offset
        )
    return Listing(rows, next_offset, first, datetime.now(UTC))
