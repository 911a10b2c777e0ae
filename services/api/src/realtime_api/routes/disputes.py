"""GET /disputes: one user's dispute facts and status, or the newest disputes of everyone.

A dispute is RAISED on chain (YieldScalesPool.BalanceDisputed) and RESOLVED by the oracle
(DISPUTE_RESOLVED); the resolution's description is encrypted at rest and never served.
"""

from __future__ import annotations

from fastapi import APIRouter

from realtime_api import errors, schemas
from realtime_api.deps import OptionalAddressDep, PageDep, ReaderDep, RuntimeDep
from realtime_api.routes.listing import read_listing
from realtime_api.storage import queries

router = APIRouter(tags=["disputes"])
_STATUS = {"RAISED": "open", "RESOLVED": "resolved", None: "none"}


@router.get("/disputes", responses=errors.responses(400, 429, 503))
async def get_disputes(
    address: OptionalAddressDep, page: PageDep, reader: ReaderDep, runtime: RuntimeDep
) -> schemas.Disputes:
    """Balance disputes, newest first. With an address, `status` is the outcome of its latest
    fact: `open` (raised, not yet resolved), `resolved`, or `none`."""
    listing = await read_listing(
        reader,
        runtime,
        address,
        page,
        for_user=queries.USER_DISPUTES,
        across_users=queries.RECENT_DISPUTES,
    )
    t = listing.totals
    status = None if address is None else _STATUS[t["latest_kind"]]
    return schemas.Disputes(
        address=address,
        status=status,
        totals=schemas.DisputeTotals(
            raised=t["raised"],
            resolved=t["resolved"],
            open=t["open_users"] if address is None else int(status == "open"),
        ),
        totals_as_of=listing.as_of,
        limit=page.limit,
        offset=page.offset,
        next_offset=listing.next_offset,
        items=[schemas.Dispute.model_validate(dict(row)) for row in listing.rows],
    )
