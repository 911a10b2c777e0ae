"""The per-request reads: each is one call of an `api_*` function of migration 0003, which
sets the user row-level security shows (the address asked about, or every user for the
listings across users) and runs one indexed query, in one statement and one round trip."""

from __future__ import annotations

import asyncpg

BALANCES = "SELECT * FROM api_balances($1)"
TRANSACTIONS = "SELECT * FROM api_transactions($1, $2, $3)"
USER_BURNS = "SELECT * FROM api_user_burns($1, $2, $3)"
"""The user's burn totals on every row, then one page (an empty page: one row, page null)."""
RECENT_BURNS = "SELECT * FROM api_recent_burns($1, $2)"
YIELD_PARTICIPANT = "SELECT * FROM api_yield_participant($1)"
SYNC_STATUS = "SELECT * FROM api_sync_status($1)"
USER_DISPUTES = "SELECT * FROM api_user_disputes($1, $2, $3)"
"""The user's dispute totals and latest kind on every row, then one page."""
RECENT_DISPUTES = "SELECT * FROM api_recent_disputes($1, $2)"
OWN_BITCOIN_ADDRESSES = "SELECT * FROM api_bitcoin_addresses($1)"
"""The user's Bitcoin address ciphertexts, through the owner's narrow definer function."""
RECORD_RESERVES = (
    "SELECT api_record_reserves($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
)
"""The API's one write (migrations 0004, 0008, 0011): the reserves state it publishes, recorded
once: rBTC supply, BTC the oracle reports, leaves, root, as of, wrBTC outstanding, synced sats,
unbacked supply, EVM block B, Bitcoin height H, BTC held, supply no BTC backs, scheme."""


async def fetch_page(
    connection: asyncpg.Connection, query: str, *args: object, limit: int, offset: int
) -> tuple[list[asyncpg.Record], int | None]:
    """One page plus the offset of the next (None on the last page): one row more than the
    page is read to know, instead of counting every row of the user."""
    rows: list[asyncpg.Record] = await connection.fetch(query, *args, limit + 1, offset)
    if len(rows) > limit:
        return rows[:limit], offset + limit
    return rows, None


async def fetch_grouped_page(
    connection: asyncpg.Connection, query: str, address: str, *, limit: int, offset: int
) -> tuple[asyncpg.Record, list[asyncpg.Record], int | None]:
    """The totals-plus-page reads (USER_BURNS, USER_DISPUTES): the totals (on every row),
    the page's rows and the next offset."""
    rows: list[asyncpg.Record] = await connection.fetch(query, address, limit + 1, offset)
    page = [row for row in rows if row["user_address"] is not None]
    next_offset = offset + limit if len(page) > limit else None
    return rows[0], page[:limit], next_offset
