"""GET /sync-status: does the database's balance of a user agree with the oracle's state?"""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter

from realtime_api import errors, schemas
from realtime_api.deps import AddressDep, ReaderDep
from realtime_api.domain.freshness import classify, newer_side
from realtime_api.storage import queries

router = APIRouter(tags=["sync"])


@router.get("/sync-status", responses=errors.responses(400, 429, 503))
async def get_sync_status(address: AddressDep, reader: ReaderDep) -> schemas.SyncStatus:
    """`in_sync` when the latest synced balance in the database equals the balance in the
    oracle's latest state for the user, `stale` when they differ, `not_registered` when the
    oracle has no state for the address."""
    async with reader.connection() as connection:
        row = await connection.fetchrow(queries.SYNC_STATUS, address)
    database_sats = int(row["new_sats"] or 0)  # numeric (uint64) since migration 0005
    oracle_sats = row["last_synced_sats"]
    return schemas.SyncStatus(
        address=address,
        status=classify(database_sats, oracle_sats).value,
        known_to_database=row["known"],
        database_sats=database_sats,
        database_block=row["block_number"],
        database_at=row["block_timestamp"],
        oracle_sats=oracle_sats,
        oracle_last_sync_at=row["last_sync_at"],
        oracle_as_of=row["as_of"],
        difference_sats=None if oracle_sats is None else oracle_sats - database_sats,
        newer=newer_side(row["block_timestamp"], row["last_sync_at"]),
        as_of=datetime.now(UTC),
    )
