"""The aggregates across all users, kept in memory and rebuilt in the background when the data
changed: the reserves Merkle sum tree (100k leaves take a quarter of a second to hash, far too
slow per request), the oracle's total, and the burn, dispute and pool totals.

Change detector: every record the db-writer applies moves its stored offsets (`sink_offsets`,
committed in the same transaction as the rows), so their sum, count and newest update time
change exactly when the data may have. A rebuild also happens after `max_age` whatever the
detector says, for changes that bypass the writer (retention, a hand fix).

A rebuild reads everything in one REPEATABLE READ transaction, so all figures describe the same
instant (`as_of`); the tree is hashed in a separate process so the event loop never stalls.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from realtime_api import metrics
from realtime_api.domain import merkle
from realtime_api.storage.database import ALL_USERS, Reader

log = logging.getLogger(__name__)

FINGERPRINT = """
SELECT coalesce(sum(next_offset), 0)::text || ':' || count(*) || ':' ||
       coalesce(max(updated_at)::text, '') AS fingerprint,
       max(updated_at) AS writer_last_commit_at
FROM sink_offsets
"""
# Every user is a leaf (0 when no balance was ever synced), so every user has a proof.
LEAVES = """
SELECT coalesce(string_agg(decode(substr(u.address, 3), 'hex') || int8send(coalesce(h.new_sats, 0)),
                           ''::bytea), ''::bytea)
FROM users u
LEFT JOIN LATERAL (
    SELECT new_sats FROM balance_history WHERE user_address = u.address
    ORDER BY block_number DESC, log_index DESC LIMIT 1
) h ON true
"""
TOTALS = """
SELECT * FROM
(SELECT count(*) AS oracle_users, coalesce(sum(last_synced_sats), 0) AS oracle_sats
 FROM oracle_user_states) o,
(SELECT count(*) AS burns, coalesce(sum(burned_sats), 0) AS burned_sats,
        count(*) FILTER (WHERE seen_on_chain) AS burns_seen_on_chain,
        count(*) FILTER (WHERE reported_by_oracle) AS burns_reported_by_oracle,
        count(DISTINCT user_address) AS burn_users
 FROM emergency_burns) b,
(SELECT count(*) FILTER (WHERE kind = 'RAISED') AS disputes_raised,
        count(*) FILTER (WHERE kind = 'RESOLVED') AS disputes_resolved
 FROM balance_disputes) d,
(SELECT count(*) FILTER (WHERE kind = 'RAISED') AS disputes_open_users FROM (
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


@dataclass(frozen=True)
class Snapshot:
    as_of: datetime
    """The instant the data was read (the database's clock)."""
    build_s: float
    fingerprint: str
    writer_last_commit_at: datetime | None
    tree: merkle.MerkleSumTree
    totals: dict[str, int]
    """The TOTALS columns: oracle, burn, dispute and pool counts and sums."""
    pool_contract: str | None
    pool_code_present: bool | None
    latest_yield: PoolEvent | None
    latest_scales: PoolEvent | None


class SnapshotKeeper:
    def __init__(
        self,
        reader: Reader,
        executor: Executor,
        *,
        check_interval_s: float,
        min_interval_s: float,
        max_age_s: float,
    ) -> None:
        self._reader = reader
        self._executor = executor
        self._check_interval_s = check_interval_s
        self._min_interval_s = min_interval_s
        self._max_age_s = max_age_s
        self._built_at = 0.0
        self.current: Snapshot | None = None

    async def run(self) -> None:
        """Check, rebuild when needed, sleep; failures are logged, counted and retried."""
        while True:
            try:
                await self.refresh()
            except asyncio.CancelledError:
                raise
            except Exception:
                metrics.SNAPSHOT_FAILURES.inc()
                log.exception("the aggregates snapshot could not be refreshed; retrying")
            await asyncio.sleep(self._check_interval_s)

    async def refresh(self) -> bool:
        """Rebuild if the data changed (not more often than the minimum interval) or the
        snapshot is too old; returns whether it rebuilt."""
        since = time.monotonic() - self._built_at
        if self.current is not None and since < self._max_age_s:
            if since < self._min_interval_s:
                return False
            async with self._reader.as_user(ALL_USERS) as connection:
                row = await connection.fetchrow(FINGERPRINT)
            if row["fingerprint"] == self.current.fingerprint:
                return False
        self.current = await self.build()
        return True

    async def build(self) -> Snapshot:
        started = time.perf_counter()
        async with self._reader.as_user(ALL_USERS) as connection:
            as_of = await connection.fetchval("SELECT now()")
            progress = await connection.fetchrow(FINGERPRINT)
            records = await connection.fetchval(LEAVES)
            totals = await connection.fetchrow(TOTALS)
            contract = await connection.fetchrow(POOL_CONTRACT)
            latest_yield = await _pool_event(connection, "YIELD_CALCULATED")
            latest_scales = await _pool_event(connection, "SCALES_UPDATED")
        tree = await asyncio.get_running_loop().run_in_executor(
            self._executor, merkle.build, bytes(records)
        )
        elapsed = time.perf_counter() - started
        self._built_at = time.monotonic()
        metrics.SNAPSHOT_BUILD_SECONDS.observe(elapsed)
        metrics.SNAPSHOT_USERS.set(tree.leaf_count)
        metrics.SNAPSHOT_AS_OF.set(as_of.timestamp())
        log.info(
            "aggregates snapshot built",
            extra={"users": tree.leaf_count, "seconds": round(elapsed, 3)},
        )
        return Snapshot(
            as_of=as_of,
            build_s=elapsed,
            fingerprint=progress["fingerprint"],
            writer_last_commit_at=progress["writer_last_commit_at"],
            tree=tree,
            totals={key: int(value) for key, value in totals.items()},
            pool_contract=contract["address"] if contract else None,
            pool_code_present=contract["code_present"] if contract else None,
            latest_yield=latest_yield,
            latest_scales=latest_scales,
        )


async def _pool_event(connection: asyncpg.Connection, operation: str) -> PoolEvent | None:
    row = await connection.fetchrow(LATEST_POOL_EVENT, operation)
    if row is None:
        return None
    details: Any = row["details"]
    values = json.loads(details) if isinstance(details, str) else dict(details)
    return PoolEvent(
        {str(k): str(v) for k, v in values.items()}, row["block_number"], row["block_timestamp"]
    )
