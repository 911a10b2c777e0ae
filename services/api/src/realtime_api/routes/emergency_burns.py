"""GET /emergency-burns: one user's burns with their totals, or the newest burns of everyone
with the totals of the aggregates snapshot."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg
from fastapi import APIRouter

from realtime_api import errors, schemas
from realtime_api.deps import OptionalAddressDep, PageDep, ReaderDep, RuntimeDep, snapshot_of
from realtime_api.storage import queries

router = APIRouter(tags=["emergency burns"])


def _burn(row: asyncpg.Record) -> schemas.EmergencyBurn:
    return schemas.EmergencyBurn(
        user_address=row["user_address"],
        burned_sats=row["burned_sats"],
        reason=row["reason"],
        tx_hash=row["tx_hash"],
        block_number=row["block_number"],
        occurred_at=row["occurred_at"],
        seen_on_chain=row["seen_on_chain"],
        reported_by_oracle=row["reported_by_oracle"],
    )


@router.get("/emergency-burns", responses=errors.responses(400, 429, 503))
async def get_emergency_burns(
    address: OptionalAddressDep, page: PageDep, reader: ReaderDep, runtime: RuntimeDep
) -> schemas.EmergencyBurns:
    """Burns of a user's whole balance (insufficient fees, or the committee's emergency burn),
    whether the chain, the oracle or both reported them; newest first."""
    if address is None:
        snapshot = snapshot_of(runtime)
        async with reader.connection() as connection:
            rows, next_offset = await queries.fetch_page(
                connection, queries.RECENT_BURNS, limit=page.limit, offset=page.offset
            )
        t = snapshot.totals
        totals = schemas.BurnTotals(
            burns=t["burns"],
            burned_sats=t["burned_sats"],
            seen_on_chain=t["burns_seen_on_chain"],
            reported_by_oracle=t["burns_reported_by_oracle"],
            users=t["burn_users"],
        )
        as_of = snapshot.as_of
    else:
        async with reader.connection() as connection:
            first, rows, next_offset = await queries.fetch_grouped_page(
                connection, queries.USER_BURNS, address, limit=page.limit, offset=page.offset
            )
        totals = schemas.BurnTotals(
            burns=first["total_burns"],
            burned_sats=first["total_burned_sats"],
            seen_on_chain=first["seen_on_chain_count"],
            reported_by_oracle=first["reported_by_oracle_count"],
            users=1 if first["total_burns"] else 0,
        )
        as_of = datetime.now(UTC)
    return schemas.EmergencyBurns(
        address=address,
        totals=totals,
        totals_as_of=as_of,
        limit=page.limit,
        offset=page.offset,
        next_offset=next_offset,
        items=[_burn(row) for row in rows],
    )
