"""GET /emergency-burns: one user's burns with their totals, or the newest burns of everyone
with the totals of the aggregates snapshot."""

from __future__ import annotations

from fastapi import APIRouter

from realtime_api import errors, schemas
from realtime_api.deps import OptionalAddressDep, PageDep, ReaderDep, RuntimeDep
from realtime_api.routes.listing import read_listing
from realtime_api.storage import queries

router = APIRouter(tags=["emergency burns"])


@router.get("/emergency-burns", responses=errors.responses(400, 429, 503))
async def get_emergency_burns(
    address: OptionalAddressDep, page: PageDep, reader: ReaderDep, runtime: RuntimeDep
) -> schemas.EmergencyBurns:
    """Burns of a user's whole balance (insufficient fees, or the committee's emergency burn),
    whether the chain, the oracle or both reported them; newest first."""
    listing = await read_listing(
        reader,
        runtime,
        address,
        page,
        for_user=queries.USER_BURNS,
        across_users=queries.RECENT_BURNS,
    )
    t = listing.totals
    return schemas.EmergencyBurns(
        address=address,
        totals=schemas.BurnTotals(
            burns=t["total_burns"],
            burned_sats=t["total_burned_sats"],
            seen_on_chain=t["seen_on_chain_count"],
            reported_by_oracle=t["reported_by_oracle_count"],
            users=t.get("burn_users", int(t["total_burns"] > 0)),
        ),
        totals_as_of=listing.as_of,
        limit=page.limit,
        offset=page.offset,
        next_offset=listing.next_offset,
        items=[schemas.EmergencyBurn.model_validate(dict(row)) for row in listing.rows],
    )
