"""GET /transactions: a user's money-moving chain events, newest first, a page at a time."""

from __future__ import annotations

from fastapi import APIRouter

from realtime_api import errors, schemas
from realtime_api.deps import AddressDep, PageDep, ReaderDep
from realtime_api.storage import queries

router = APIRouter(tags=["transactions"])


@router.get("/transactions", responses=errors.responses(400, 429, 503))
async def get_transactions(
    address: AddressDep, page: PageDep, reader: ReaderDep
) -> schemas.Transactions:
    """MINT, BURN, EMERGENCY_BURN, DEPOSIT, FEE_SPENT, WITHDRAW, WRAP, REDEEM, SLASH and
    YIELD_CLAIM rows of one user, ordered by block then log index, newest first. An address
    with no transactions gets an empty page."""
    async with reader.connection() as connection:
        rows, next_offset = await queries.fetch_page(
            connection, queries.TRANSACTIONS, address, limit=page.limit, offset=page.offset
        )
    return schemas.Transactions(
        address=address,
        limit=page.limit,
        offset=page.offset,
        next_offset=next_offset,
        items=[schemas.Transaction.model_validate(dict(row)) for row in rows],
    )
