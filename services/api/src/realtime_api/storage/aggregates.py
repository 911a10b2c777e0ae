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
# The tokens each holder holds, from every rBTC and wrBTC Transfer (migration 0008), and the
# wrap vault(s): the contract emitting wrBTC Transfers, whose own rBTC backs the wrBTC; the BTC
# on each user's verified Bitcoin addresses, from the bitcoin-listener (migration 0011).
# Every user and every other holder is a leaf (amounts 0 when none), so each has a proof; one
# record each: the 20 address bytes, then rBTC held (the vault's: 0), wrBTC held, synced sats
# and BTC held as 8 big-endian bytes each (merkle.RECORD_BYTES). The amounts are numeric (uint64
# and beyond), which int8send cannot take above 2^63 - 1: it sends amount - 2^63 instead, whose
# two's complement with the top bit flipped is exactly the amount's unsigned bytes; an amount
# beyond a uint64 fails the cast, loudly, rather than being cut. In the same pass, the
# liabilities as the token itself counts them: rBTC totalSupply (every holder's rBTC, the
# vault's included: minted - burned), wrBTC outstanding, the vault's rBTC, the sum of the
# balances the oracle synced on chain, the BTC held; and the instant on both chains: the
# newest EVM block of any applied token movement or synced balance (B), the newest Bitcoin
# height of any stored balance (H).
RESERVES = """
WITH held AS (
    SELECT user_address,
           coalesce(sum(CASE direction WHEN 'in' THEN amount ELSE -amount END)
                    FILTER (WHERE token = 'rBTC'), 0) AS rbtc,
           coalesce(sum(CASE direction WHEN 'in' THEN amount ELSE -amount END)
                    FILTER (WHERE token = 'wrBTC'), 0) AS wrbtc
    FROM token_movements GROUP BY user_address
), vaults AS (
    SELECT DISTINCT token_address AS address FROM token_movements WHERE token = 'wrBTC'
), synced AS (
    SELECT u.address, h.new_sats FROM users u
    LEFT JOIN LATERAL (
        SELECT new_sats FROM balance_history WHERE user_address = u.address
        ORDER BY block_number DESC, log_index DESC LIMIT 1
    ) h ON true
), btc AS (
    SELECT user_address, btc_sats, height FROM api_reserves_bitcoin()
), leaves AS (
    SELECT coalesce(s.address, held.user_address, btc.user_address) AS address,
           coalesce(held.rbtc, 0) AS rbtc, coalesce(held.wrbtc, 0) AS wrbtc,
           coalesce(s.new_sats, 0) AS synced, coalesce(btc.btc_sats, 0) AS btc
    FROM synced s FULL JOIN held ON held.user_address = s.address
    FULL JOIN btc ON btc.user_address = coalesce(s.address, held.user_address)
), marked AS (
    SELECT leaves.*, address IN (SELECT address FROM vaults) AS is_vault FROM leaves
), biased AS (
    SELECT marked.*,
           int8send(((CASE WHEN is_vault THEN 0 ELSE rbtc END) - 9223372036854775808)::bigint)
               AS rbtc_bytes,
           int8send((wrbtc - 9223372036854775808)::bigint) AS wrbtc_bytes,
           int8send((synced - 9223372036854775808)::bigint) AS synced_bytes,
           int8send((btc - 9223372036854775808)::bigint) AS btc_bytes
    FROM marked
)
SELECT coalesce(string_agg(
           decode(substr(address, 3), 'hex')
           || set_byte(rbtc_bytes, 0, get_byte(rbtc_bytes, 0) # 128)
           || set_byte(wrbtc_bytes, 0, get_byte(wrbtc_bytes, 0) # 128)
           || set_byte(synced_bytes, 0, get_byte(synced_bytes, 0) # 128)
           || set_byte(btc_bytes, 0, get_byte(btc_bytes, 0) # 128), ''::bytea), ''::bytea)
           AS records,
       coalesce(sum(rbtc), 0) AS rbtc_supply,
       coalesce(sum(wrbtc), 0) AS wrbtc_outstanding,
       coalesce(sum(rbtc) FILTER (WHERE is_vault), 0) AS vault_rbtc,
       coalesce(sum(synced), 0) AS synced,
       coalesce(sum(btc), 0) AS btc_held,
       greatest((SELECT max(block_number) FROM token_movements),
                (SELECT max(block_number) FROM balance_history), 0) AS evm_block,
       coalesce((SELECT max(height) FROM btc), 0) AS btc_height
FROM biased
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
