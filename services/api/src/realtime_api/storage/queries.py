"""The per-request reads: one statement each, every one served by an index on the user's
address (migrations 0001/0002) or on time (0003). The f-strings only splice the constant
fragments defined here, never input (hence the S608 waivers). Row-level security applies on top: the
transaction's `reservesync.user` is the address asked about, or `'*'` for the listings across
users, so a query that forgot its WHERE clause would still see only what it may.
"""

from __future__ import annotations

import asyncpg

# The newest balance_history row of a user: the latest synced sats, the block and time.
_LATEST_BALANCE = """
    SELECT new_sats, block_number, block_timestamp, tx_hash FROM balance_history
    WHERE user_address = $1 ORDER BY block_number DESC, log_index DESC LIMIT 1"""

BALANCES = f"""
SELECT h.new_sats, h.block_number, h.block_timestamp, h.tx_hash,
       w.wrapped, w.redeemed, w.slashed,
       (SELECT max(updated_at) FROM sink_offsets) AS writer_last_commit_at
FROM users u
LEFT JOIN LATERAL ({_LATEST_BALANCE}) h ON true
LEFT JOIN LATERAL (
    SELECT coalesce(sum(amount) FILTER (WHERE tx_type = 'WRAP'), 0) AS wrapped,
           coalesce(sum(amount) FILTER (WHERE tx_type = 'REDEEM'), 0) AS redeemed,
           coalesce(sum(amount) FILTER (WHERE tx_type = 'SLASH'), 0) AS slashed
    FROM transactions
    WHERE user_address = $1 AND tx_type IN ('WRAP', 'REDEEM', 'SLASH')
) w ON true
WHERE u.address = $1
"""  # noqa: S608

TRANSACTIONS = """
SELECT chain_id, tx_hash, log_index, block_number, block_timestamp, tx_type, amount, unit,
       balance_after_sats, fee_wei, contract, event
FROM transactions WHERE user_address = $1
ORDER BY block_number DESC, log_index DESC LIMIT $2 OFFSET $3
"""

_BURN_COLUMNS = """user_address, burned_sats, reason, tx_hash, block_number, occurred_at,
       seen_on_chain, reported_by_oracle"""

# Totals and one page in one statement: the totals row always comes back, the page's columns
# are null when the page is empty. (Totals are named apart from the page's columns.)
USER_BURNS = f"""
SELECT t.*, b.*
FROM (
    SELECT count(*) AS total_burns, coalesce(sum(burned_sats), 0) AS total_burned_sats,
           count(*) FILTER (WHERE seen_on_chain) AS seen_on_chain_count,
           count(*) FILTER (WHERE reported_by_oracle) AS reported_by_oracle_count
    FROM emergency_burns WHERE user_address = $1
) t
LEFT JOIN LATERAL (
    SELECT {_BURN_COLUMNS} FROM emergency_burns WHERE user_address = $1
    ORDER BY occurred_at DESC, id DESC LIMIT $2 OFFSET $3
) b ON true
"""  # noqa: S608

RECENT_BURNS = f"""
SELECT {_BURN_COLUMNS} FROM emergency_burns
ORDER BY occurred_at DESC, id DESC LIMIT $1 OFFSET $2
"""  # noqa: S608

YIELD_PARTICIPANT = """
SELECT p.participant_type, p.amount, p.active, p.joined_at, p.left_at,
       c.claims, c.claimed
FROM (SELECT count(*) AS claims, coalesce(sum(amount), 0) AS claimed
      FROM transactions WHERE user_address = $1 AND tx_type = 'YIELD_CLAIM') c
LEFT JOIN yield_scales_participants p ON p.user_address = $1
"""

SYNC_STATUS = f"""
SELECT EXISTS (SELECT 1 FROM users WHERE address = $1) AS known,
       h.new_sats, h.block_number, h.block_timestamp,
       o.last_synced_sats, o.last_sync_at, o.registered_at, o.as_of
FROM (SELECT 1) AS one
LEFT JOIN LATERAL ({_LATEST_BALANCE}) h ON true
LEFT JOIN oracle_user_states o ON o.user_address = $1
"""  # noqa: S608

_DISPUTE_COLUMNS = """user_address, kind, reported_balance, oracle_balance, occurred_at, tx_hash,
       operation_id"""

USER_DISPUTES = f"""
SELECT t.raised, t.resolved, t.latest_kind, d.*
FROM (
    SELECT count(*) FILTER (WHERE kind = 'RAISED') AS raised,
           count(*) FILTER (WHERE kind = 'RESOLVED') AS resolved,
           (SELECT kind FROM balance_disputes WHERE user_address = $1
            ORDER BY occurred_at DESC, id DESC LIMIT 1) AS latest_kind
    FROM balance_disputes WHERE user_address = $1
) t
LEFT JOIN LATERAL (
    SELECT {_DISPUTE_COLUMNS} FROM balance_disputes WHERE user_address = $1
    ORDER BY occurred_at DESC, id DESC LIMIT $2 OFFSET $3
) d ON true
"""  # noqa: S608

RECENT_DISPUTES = f"""
SELECT {_DISPUTE_COLUMNS} FROM balance_disputes
ORDER BY occurred_at DESC, id DESC LIMIT $1 OFFSET $2
"""  # noqa: S608

# The owner's narrow path to ciphertexts (migration 0003); it answers only for the user the
# transaction's `reservesync.user` names.
OWN_BITCOIN_ADDRESSES = """
SELECT id, address_ciphertext, network, verified_at, monitoring
FROM api_own_bitcoin_addresses($1)
"""


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
    """The totals-plus-page statements (USER_BURNS, USER_DISPUTES): the totals (on every row),
    the page's rows and the next offset. An empty page is one row whose page columns are null."""
    rows: list[asyncpg.Record] = await connection.fetch(query, address, limit + 1, offset)
    page = [row for row in rows if row["user_address"] is not None]
    next_offset = offset + limit if len(page) > limit else None
    return rows[0], page[:limit], next_offset
