"""What is read across all users, kept in memory and rebuilt in the background when the data
changed, in two parts with their own cadence:

- `Aggregates`: burn, dispute and pool totals, the pool's latest facts. Tens of milliseconds
  of database time: rebuilt within seconds of a change.
- `Reserves`: the Merkle sum tree over every holder's tokens and BTC (at EVM block B and
  Bitcoin height H), the token's supply, the BTC held and the oracle's total at the same
  instant. About a second of database time at 100k users (a lookup
  of each user's latest balance, a pass over the token movements) plus a quarter of a second
  of hashing: far too slow per request, and rebuilt at most once a minute by default, since a
  live writer changes balances every few seconds.
  Each state it publishes is recorded in `proof_of_reserves` (migrations 0004, 0011), once.

Change detector: every record the db-writer applies moves its stored offsets (`sink_offsets`,
committed in the same transaction as the rows), so their sum, count and newest update time
change exactly when the data may have. Each part is also rebuilt after `max_age` whatever the
detector says, for changes that bypass the writer (retention, a hand fix).

A part is read in one REPEATABLE READ transaction, so its figures describe one instant
(`as_of`); the tree is hashed in another process, so the event loop never stalls.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from reservesync import merkle, pending_mints
from reservesync.pending_mints import PendingMints

from realtime_api import metrics
from realtime_api.domain.liabilities import Liabilities
from realtime_api.storage import aggregates, queries
from realtime_api.storage.aggregates import PoolEvent
from realtime_api.storage.database import ALL_USERS, Reader

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Aggregates:
    as_of: datetime
    """The instant the data was read (the database's clock)."""
    fingerprint: str
    totals: dict[str, int]
    """The TOTALS columns: oracle, burn, dispute and pool counts and sums."""
    pool_contract: str | None
    pool_code_present: bool | None
    latest_yield: PoolEvent | None
    latest_scales: PoolEvent | None


@dataclass(frozen=True)
class Reserves:
    as_of: datetime
    fingerprint: str
    tree: merkle.MerkleSumTree
    liabilities: Liabilities
    oracle_sats: int
    oracle_users: int
    attestation_id: int | None
    """The `proof_of_reserves` row recording this state (None: a newer one was recorded
    while this was read)."""
    pending: PendingMints
    """The oracle's mints whose `Synced` the database does not hold yet (shown, not recorded:
    the supply is the token's own)."""


Part = TypeVar("Part", Aggregates, Reserves)


class Cadence(Generic[Part]):
    """One part: its current value, and when it is due again."""

    def __init__(
        self,
        name: str,
        build: Callable[[], Awaitable[Part]],
        *,
        min_interval_s: float,
        max_age_s: float,
    ) -> None:
        self.name = name
        self.current: Part | None = None
        self._build: Callable[[], Awaitable[Part]] = build
        self._min_interval_s = min_interval_s
        self._max_age_s = max_age_s
        self._built_at = 0.0

    def due(self, fingerprint: str) -> bool:
        if self.current is None:
            return True
        age = time.monotonic() - self._built_at
        changed = fingerprint != self.current.fingerprint
        return age >= self._max_age_s or (changed and age >= self._min_interval_s)

    async def rebuild(self) -> None:
        started = time.perf_counter()
        self.current = await self._build()
        self._built_at = time.monotonic()
        elapsed = time.perf_counter() - started
        metrics.SNAPSHOT_BUILD_SECONDS.labels(self.name).observe(elapsed)
        metrics.SNAPSHOT_AS_OF.labels(self.name).set(self.current.as_of.timestamp())
        log.info("snapshot built", extra={"part": self.name, "seconds": round(elapsed, 3)})


class SnapshotKeeper:
    def __init__(
        self,
        reader: Reader,
        executor: Executor,
        *,
        check_interval_s: float,
        aggregates_min_interval_s: float,
        reserves_min_interval_s: float,
        max_age_s: float,
        pending_mint_window_s: float,
    ) -> None:
        self._reader = reader
        self._pending_mint_window_s = pending_mint_window_s
        self._executor = executor
        self._check_interval_s = check_interval_s
        self.aggregates = Cadence(
            "aggregates",
            self._read_aggregates,
            min_interval_s=aggregates_min_interval_s,
            max_age_s=max_age_s,
        )
        self.reserves = Cadence(
            "reserves",
            self._read_reserves,
            min_interval_s=reserves_min_interval_s,
            max_age_s=max_age_s,
        )

    @property
    def ready(self) -> bool:
        return self.aggregates.current is not None and self.reserves.current is not None

    async def run(self) -> None:
        """Check, rebuild what is due, sleep; failures are logged, counted and retried."""
        while True:
            try:
                await self.refresh()
            except asyncio.CancelledError:
                raise
            except Exception:
                metrics.SNAPSHOT_FAILURES.inc()
                log.exception("a snapshot could not be refreshed; retrying")
            await asyncio.sleep(self._check_interval_s)

    async def refresh(self) -> None:
        async with self._reader.as_user(ALL_USERS) as connection:
            fingerprint = await connection.fetchval(aggregates.FINGERPRINT)
        for part in (self.aggregates, self.reserves):
            if part.due(fingerprint):
                await part.rebuild()

    async def _read_aggregates(self) -> Aggregates:
        async with self._reader.as_user(ALL_USERS) as connection:
            as_of = await connection.fetchval("SELECT now()")
            fingerprint = await connection.fetchval(aggregates.FINGERPRINT)
            totals = await connection.fetchrow(aggregates.TOTALS)
            contract = await connection.fetchrow(aggregates.POOL_CONTRACT)
            latest_yield = await aggregates.pool_event(connection, "YIELD_CALCULATED")
            latest_scales = await aggregates.pool_event(connection, "SCALES_UPDATED")
        return Aggregates(
            as_of=as_of,
            fingerprint=fingerprint,
            totals={key: int(value) for key, value in totals.items()},
            pool_contract=contract["address"] if contract else None,
            pool_code_present=contract["code_present"] if contract else None,
            latest_yield=latest_yield,
            latest_scales=latest_scales,
        )

    async def _read_reserves(self) -> Reserves:
        async with self._reader.as_user(ALL_USERS) as connection:
            # Row-level security's OR makes the planner expect almost no rows and pick bitmap
            # scans that sort each user's history; one index probe per user is 35% faster.
            await connection.execute("SET LOCAL enable_bitmapscan = off")
            as_of = await connection.fetchval("SELECT now()")
            fingerprint = await connection.fetchval(aggregates.FINGERPRINT)
            reserves = await connection.fetchrow(aggregates.RESERVES)
            oracle = await connection.fetchrow(aggregates.ORACLE_TOTAL)
            pending = await pending_mints.read(connection, as_of, self._pending_mint_window_s)
        tree = await asyncio.get_running_loop().run_in_executor(
            self._executor,
            merkle.build,
            bytes(reserves["records"]),
            merkle.Point(int(reserves["evm_block"]), int(reserves["btc_height"])),
        )
        metrics.SNAPSHOT_USERS.set(tree.leaf_count)
        liabilities = Liabilities(
            rbtc_supply=int(reserves["rbtc_supply"]),
            wrbtc_outstanding=int(reserves["wrbtc_outstanding"]),
            vault_rbtc=int(reserves["vault_rbtc"]),
            synced_sats=int(reserves["synced"]),
            btc_held=int(reserves["btc_held"]),
        )
        oracle_sats, oracle_users = int(oracle["sats"]), int(oracle["users"])
        _observe(tree.point, liabilities, oracle_sats)
        attestation = await self._reader.record(
            queries.RECORD_RESERVES,
            liabilities.rbtc_supply,
            oracle_sats,
            tree.leaf_count,
            merkle.to_hex(tree.root),
            as_of,
            liabilities.wrbtc_outstanding,
            liabilities.synced_sats,
            liabilities.unbacked_supply,
            tree.point.evm_block,
            tree.point.btc_height,
            liabilities.btc_held,
            liabilities.unbacked_by_btc,
            merkle.SCHEME,
        )
        return Reserves(
            as_of,
            fingerprint,
            tree,
            liabilities,
            oracle_sats,
            oracle_users,
            attestation,
            pending,
        )


def _observe(point: merkle.Point, liabilities: Liabilities, oracle_sats: int) -> None:
    for side, sats in (
        ("rbtc_supply", liabilities.rbtc_supply),
        ("btc_held", liabilities.btc_held),
        ("oracle_reported", oracle_sats),
        ("unbacked_by_btc", liabilities.unbacked_by_btc),
    ):
        metrics.RESERVES_SATS.labels(side).set(sats)
    metrics.RESERVES_POINT.labels("evm_block").set(point.evm_block)
    metrics.RESERVES_POINT.labels("btc_height").set(point.btc_height)
