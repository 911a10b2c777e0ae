"""GET /balances: a user's synced, rBTC and wrBTC balances, and how fresh they are."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter

from realtime_api import errors, schemas
from realtime_api.deps import AddressDep, ReaderDep
from realtime_api.domain.freshness import age_s
from realtime_api.storage import queries

router = APIRouter(tags=["balances"])


@router.get("/balances", responses=errors.responses(400, 404, 429, 503))
async def get_balances(address: AddressDep, reader: ReaderDep) -> schemas.Balances:
    """The database's view of one user: the balance the oracle last synced on chain, how much
    of it is wrapped as wrBTC, the Synced event it came from, and the age of both the balance
    and the database's newest write."""
    async with reader.connection() as connection:
        row = await connection.fetchrow(queries.BALANCES, address)
    if row is None:
        raise errors.ApiError(404, "unknown_address", f"no user {address} in the database")
    now = datetime.now(UTC)
    synced = int(row["new_sats"] or 0)  # numeric (uint64) since migration 0005
    wrapped = int(row["wrapped"]) - int(row["redeemed"]) - int(row["slashed"])
    last = None if row["block_number"] is None else schemas.LastUpdate.model_validate(dict(row))
    return schemas.Balances(
        address=address,
        synced_sats=synced,
        rbtc_sats=max(0, synced - max(0, wrapped)),
        wrbtc_sats=max(0, wrapped),
        wrbtc_movements=schemas.WrapMovements(
            wrapped_sats=int(row["wrapped"]),
            redeemed_sats=int(row["redeemed"]),
            slashed_sats=int(row["slashed"]),
        ),
        last_update=last,
        freshness=schemas.Freshness(
            balance_updated_at=row["block_timestamp"],
            balance_age_s=age_s(row["block_timestamp"], now),
            writer_last_commit_at=row["writer_last_commit_at"],
            writer_age_s=age_s(row["writer_last_commit_at"], now),
        ),
        as_of=now,
    )
