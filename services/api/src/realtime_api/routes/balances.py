"""GET /balances: a user's synced, rBTC and wrBTC balances, and how fresh they are."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter
from reservesync.http_errors import ApiError

from realtime_api import errors, schemas
from realtime_api.deps import AddressDep, ReaderDep
from realtime_api.domain.freshness import age_s
from realtime_api.storage import queries

router = APIRouter(tags=["balances"])


@router.get("/balances", responses=errors.responses(400, 404, 429, 503))
async def get_balances(address: AddressDep, reader: ReaderDep) -> schemas.Balances:
    """The database's view of one address, a user or any other holder: the balance the oracle
    last synced on chain, the rBTC and wrBTC it holds (exact, from every Transfer), its own
    wrap movements, the Synced event of its balance, and the age of both the balance and the
    database's newest write."""
    async with reader.connection() as connection:
        row = await connection.fetchrow(queries.BALANCES, address)
    if row is None or not (row["known_user"] or row["holder"]):
        raise ApiError(404, "unknown_address", f"no user or token holder {address} in the database")
    now = datetime.now(UTC)
    last = None if row["block_number"] is None else schemas.LastUpdate.model_validate(dict(row))
    return schemas.Balances(
        address=address,
        is_user=row["known_user"],
        synced_sats=int(row["new_sats"] or 0),  # numeric (uint64) since migration 0005
        rbtc_sats=int(row["rbtc_sats"]),
        wrbtc_sats=int(row["wrbtc_sats"]),
        tokens_block_number=row["tokens_block"],
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
