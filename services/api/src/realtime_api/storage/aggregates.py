"""The reads across all users behind the snapshots (`storage.snapshot`), run as `'*'`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

FINGERPRINT = """
SELECT coalesce(sum(next_offset), 0)::text || ':' || count(*) || ':' ||
       coalesce(max(updated_at)::text, '')
FROM sink_offsets
"""
# Every user is a leaf (0 when no balance was ever synced), so every user has a proof; one
# record each: the 20 address bytes and the balance as 8 big-endian bytes (merkle.RECORD_BYTES).
# A balance is a uint64 (numeric, migration 0005), which int8send cannot take above 2^63 - 1:
# it sends balance - 2^63 instead, whose two's complement with the top bit flipped is exactly
# the balance's unsigned bytes.
LEAVES = """
SELECT coalesce(string_agg(decode(substr(u.address, 3), 'hex')
                           || set_byte(b.biased, 0, get_byte(b.biased, 0) # 128), ''::bytea),
                ''::bytea)
FROM users u
LEFT JOIN LATERAL (
    SELECT new_sats FROM balance_history WHERE user_address = u.address
    ORDER BY block_number DESC, log_index DESC LIMIT 1
) h ON true
CROSS JOIN LATERAL (
    SELECT int8send((coalesce(h.new_sats, 0) - 9223372036854775808)::bigint) AS biased
) b
"""
ORACLE_TOTAL = """
SELECT count(*) AS users, coalesce(sum(last_synced_sats), 0) AS sats FROM oracle_user_states
"""
# Named as the per-user reads name their totals (api_user_burns, api_user_disputes), so the
# listing routes read either the same way.
TOTALS = """
SELECT * FROM
(SELECT count(*) AS total_burns, coalesce(sum(burned_sats), 0) AS total_burned_sats,
        count(*) FILTER (WHERE seen_on_chain) AS seen_on_chain_count,
        count(*) FILTER (WHERE reported_by_oracle) AS reported_by_oracle_count,
        count(DISTINCT user_address) AS burn_users
 FROM emergency_burns) b,
(SELECT count(*) FILTER (WHERE kind = 'RAISED') AS raised,
        count(*) FILTER (WHERE kind = 'RESOLVED') AS resolved
 FROM balance_disputes) d,
(SELECT count(*) FILTER (WHERE kind = 'RAISED') AS open_users FROM (
    SELECT DISTINCT ON (user_address) kind FROM balance_disputes
    ORDER BY user_address, occurred_at DESC, id DESC) latest) od,
(SELECT count(*) FILTER (WHERE active) AS participants_active,
        count(*) AS participants_ever,
        coalesce(sum(amount) FILTER (WHERE active AND participant_type = 0), 0) AS rbtc_committed,
        coalesce(sum(amount) FILTER (WHERE active AND participant_type = 1), 0) AS usdt_committed
 FROM yield_scales_participants) p
"""
POOL_CONTRACT = """
SELECT address, code_present FROM system_contracts WHERE name = 'YieldScalesPool'
ORDER BY observed_at DESC LIMIT 1
"""
LATEST_POOL_EVENT = """
SELECT details, block_number, block_timestamp FROM yield_operations_log
WHERE user_address IS NULL AND operation = $1
ORDER BY block_number DESC, log_index DESC LIMIT 1
"""


@dataclass(frozen=True)
class PoolEvent:
    values: dict[str, str]
    """The event's arguments, as the chain decoded them (uint256 as decimal strings)."""
    block_number: int
    at: datetime


async def pool_event(connection: asyncpg.Connection, operation: str) -> PoolEvent | None:
    row = await connection.fetchrow(LATEST_POOL_EVENT, operation)
    if row is None:
        return None
    details: Any = row["details"]
    values = json.loads(details) if isinstance(details, str) else dict(details)
    return PoolEvent(
        {str(k): str(v) for k, v in values.items()}, row["block_number"], row["block_timestamp"]
    )
