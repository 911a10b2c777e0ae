"""Pending mints: rBTC the oracle has minted by its own word but the database's supply does not
count yet, so the Secure-Mint rule (supply + pending mint must not exceed reserves) can judge
a mint before its `Synced` arrives, not after.

A pending mint is an oracle operation of `oracle_operations_log` that

- is a `MINT` with status `success` and an `amount_sats` (the sats it adds to the user's
  synced balance), logged (`occurred_at`) within the last `HEALTH_PENDING_MINT_WINDOW_S`;
- whose `Synced` the database does not hold yet: no `balance_history` row of the same user
  with the operation's `tx_hash`, or, for an operation logged without one, no row of the user
  taking the balance from the operation's `previous_sats` to `previous_sats + amount_sats`.

Its amount counts once, and no longer once the chain-listener's `Synced` (with the db-writer
behind it) reaches the database: then the supply the API publishes holds it. The health
service adds it to the supply in its `under_backed` alert; the API shows it beside the supply
in /proof-of-reserves; both read it with this one query (as `rs_health`, and as `rs_api` for
every user). The window bounds
what a mint that never reaches the chain (a reverted transaction, an operation logged in
error) can add: after it, such a mint is the oracle's problem to explain, not supply.
Operations are matched by the database alone, like the supply they are added to, so the two
move together whichever of the oracle's and the chain's topics the db-writer reads first. One
lag remains for the health service, which adds them to the supply of the API's newest
published state: a mint whose `Synced` is in the database but newer than that state counts in
neither until the API publishes again (`API_RESERVES_MIN_INTERVAL_S`), which can delay an
`under_backed` alert by that long, never raise a false one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

PENDING = """
SELECT coalesce(sum(op.amount_sats), 0)::bigint AS sats, count(*) AS mints
FROM oracle_operations_log op
WHERE op.action = 'MINT' AND op.status = 'success' AND op.amount_sats IS NOT NULL
  AND op.occurred_at > $1
  AND NOT EXISTS (
      SELECT 1 FROM balance_history h
      WHERE h.user_address = op.user_address
        AND (h.tx_hash = op.tx_hash
             OR (op.tx_hash IS NULL
                 AND h.previous_sats = op.previous_sats
                 AND h.new_sats = op.previous_sats + op.amount_sats)))
"""


@dataclass(frozen=True)
class PendingMints:
    sats: int = 0
    mints: int = 0


async def read(connection: asyncpg.Connection, now: datetime, window_s: float) -> PendingMints:
    row = await connection.fetchrow(PENDING, now - timedelta(seconds=window_s))
    return PendingMints(int(row["sats"]), int(row["mints"]))
