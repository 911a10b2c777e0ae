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
        items=[
            schemas.Transaction(
                chain_id=row["chain_id"],
                tx_hash=row["tx_hash"],
                log_index=row["log_index"],
                block_number=row["block_number"],
                block_timestamp=row["block_timestamp"],
                type=row["tx_type"],
                amount=schemas.integer_text(row["amount"]),
                unit=row["unit"],
                balance_after_sats=row["balance_after_sats"],
                fee_wei=None if row["fee_wei"] is None else schemas.integer_text(row["fee_wei"]),
                contract=row["contract"],
                event=row["event"],
            )
            for row in rows
        ],
    )
