"""GET /disputes: one user's dispute facts and status, or the newest disputes of everyone.

A dispute is RAISED on chain (YieldScalesPool.BalanceDisputed) and RESOLVED by the oracle
(DISPUTE_RESOLVED); the resolution's description is encrypted at rest and never served.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import asyncpg
from fastapi import APIRouter

from realtime_api import errors, schemas
from realtime_api.deps import OptionalAddressDep, PageDep, ReaderDep, RuntimeDep, snapshot_of
from realtime_api.storage import queries

router = APIRouter(tags=["disputes"])
_STATUS = {"RAISED": "open", "RESOLVED": "resolved", None: "none"}


def _amount(value: Decimal | None) -> str | None:
    return None if value is None else schemas.integer_text(value)


def _dispute(row: asyncpg.Record) -> schemas.Dispute:
    return schemas.Dispute(
        user_address=row["user_address"],
        kind=row["kind"],
        reported_balance=_amount(row["reported_balance"]),
        oracle_balance=_amount(row["oracle_balance"]),
        occurred_at=row["occurred_at"],
        tx_hash=row["tx_hash"],
        operation_id=row["operation_id"],
    )


@router.get("/disputes", responses=errors.responses(400, 429, 503))
async def get_disputes(
    address: OptionalAddressDep, page: PageDep, reader: ReaderDep, runtime: RuntimeDep
) -> schemas.Disputes:
    """Balance disputes, newest first. With an address, `status` is the outcome of its latest
    fact: `open` (raised, not yet resolved), `resolved`, or `none`."""
    if address is None:
        snapshot = snapshot_of(runtime)
        async with reader.connection() as connection:
            rows, next_offset = await queries.fetch_page(
                connection, queries.RECENT_DISPUTES, limit=page.limit, offset=page.offset
            )
        t = snapshot.totals
        totals = schemas.DisputeTotals(
            raised=t["disputes_raised"],
            resolved=t["disputes_resolved"],
            open=t["disputes_open_users"],
        )
        status = None
        as_of = snapshot.as_of
    else:
        async with reader.connection() as connection:
            first, rows, next_offset = await queries.fetch_grouped_page(
                connection, queries.USER_DISPUTES, address, limit=page.limit, offset=page.offset
            )
        status = _STATUS[first["latest_kind"]]
        totals = schemas.DisputeTotals(
            raised=first["raised"], resolved=first["resolved"], open=int(status == "open")
        )
        as_of = datetime.now(UTC)
    return schemas.Disputes(
        address=address,
        status=status,
        totals=totals,
        totals_as_of=as_of,
        limit=page.limit,
        offset=page.offset,
        next_offset=next_offset,
        items=[_dispute(row) for row in rows],
    )
