"""The oracle against Bitcoin, read from the database each cycle at a bounded cost.

Two reads a cycle, each bounded by a setting: the `balance_history` rows written since the last
cycle (every sync and burn the chain-listener saw: a sync to 0 is judged in the cycle that first
sees it, and burns feed the mass-burn window), and the next users of a rolling pass over every
user with a verified address (a divergence that needs no new sync is found within users /
`HEALTH_ORACLE_USERS_PER_CYCLE` cycles). For those users one query gives both sides: the newest
synced balance and the confirmed sats of their verified addresses the oracle monitors
(`bitcoin_address_balances`, the bitcoin-listener's record): a verified address the oracle
does not monitor never counts towards a synced balance (the protocol's rule), so comparing
with it would call every such user diverging. A user a monitored address of whom Bitcoin has
not recorded yet is not judged. Only users in trouble are kept between cycles. The
Secure-Mint totals are one aggregate over every verified address (the reserves: their count,
not the topics' length), and one over the oracle's mints of the pending-mint window
(`reservesync.pending_mints`).
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime

import asyncpg
from reservesync import pending_mints
from reservesync.pending_mints import PendingMints

from health_monitor.config import Settings
from health_monitor.domain import oracle_watch as judge
from health_monitor.domain.alerting import Condition
from health_monitor.domain.oracle_watch import Burn, DivergenceBook, Limits, UserReading
from health_monitor.domain.reserves import Attestation
from health_monitor.models import OracleUserGap, ReservesReport

log = logging.getLogger(__name__)
SHOWN_GAPS = 50

READINGS = """
WITH btc AS (
    SELECT b.user_address, count(*) AS addresses, count(bal.address_lookup) AS recorded,
           coalesce(sum(bal.confirmed_sats), 0)::bigint AS sats, min(bal.height) AS height
    FROM bitcoin_addresses b
    LEFT JOIN bitcoin_address_balances bal USING (address_lookup)
    WHERE b.user_address = ANY($1::text[]) AND b.verified_at IS NOT NULL AND b.monitoring
    GROUP BY b.user_address
), newest AS (
    SELECT DISTINCT ON (user_address) user_address, previous_sats, new_sats, cause, block_number
    FROM balance_history WHERE user_address = ANY($1::text[])
    ORDER BY user_address, block_number DESC, log_index DESC
)
SELECT btc.user_address, btc.sats, btc.height, newest.previous_sats, newest.new_sats,
       newest.cause, newest.block_number
FROM btc JOIN newest USING (user_address)
WHERE btc.recorded = btc.addresses
"""
TOTALS = """
SELECT coalesce(sum(bal.confirmed_sats), 0)::bigint, count(*), max(bal.height),
       (SELECT count(DISTINCT address_lookup) FROM bitcoin_addresses
        WHERE verified_at IS NOT NULL)
FROM bitcoin_address_balances bal
WHERE EXISTS (SELECT 1 FROM bitcoin_addresses b
              WHERE b.address_lookup = bal.address_lookup AND b.verified_at IS NOT NULL)
"""


def limits_of(settings: Settings) -> Limits:
    return Limits(
        tolerance_sats=settings.health_oracle_tolerance_sats,
        divergence_blocks=settings.health_oracle_divergence_blocks,
        drop_sats=settings.health_oracle_drop_sats,
        mass_burn_users=settings.health_mass_burn_users,
        mass_burn_window_s=settings.health_mass_burn_window_s,
    )


@dataclass(frozen=True)
class Totals:
    bitcoin_sats: int
    addresses: int
    """Verified addresses Bitcoin has a balance of."""
    height: int | None
    verified: int = 0
    """Verified addresses: until Bitcoin has a balance of each, its total is partial."""

    @property
    def complete(self) -> bool:
        return 0 < self.verified <= self.addresses


@dataclass
class WatchState:
    """What the watcher knows after a cycle (the users in trouble, not every user)."""

    failed: dict[str, UserReading] = field(default_factory=dict)
    diverging: dict[str, UserReading] = field(default_factory=dict)
    burns: deque[Burn] = field(default_factory=deque)
    totals: Totals | None = None
    pending: PendingMints = field(default_factory=PendingMints)
    """Oracle mints whose `Synced` the database does not hold yet (`reservesync.pending_mints`)."""
    height: int | None = None
    checked: int = 0
    passes: int = 0
    error: str | None = None


class OracleWatcher:
    def __init__(self, settings: Settings, pool: asyncpg.Pool) -> None:
        self.settings = settings
        self.pool = pool
        self.limits = limits_of(settings)
        self.state = WatchState()
        self.divergences = DivergenceBook()
        self._row_cursor: int | None = None
        self._user_cursor = ""

    async def cycle(self, now: datetime, listener_height: int | None) -> WatchState:
        try:
            async with self.pool.acquire() as connection:
                await self._read(connection, now, listener_height)
            self.state.error = None
        except Exception as exc:  # a missing grant or table: said, the rest of health goes on
            self.state.error = f"{type(exc).__name__}: {exc}"
            log.warning("oracle not judged against Bitcoin", extra={"error": self.state.error})
        return self.state

    async def _read(
        self, connection: asyncpg.Connection, now: datetime, listener_height: int | None
    ) -> None:
        touched = await self._new_rows(connection)
        users = sorted(set(touched) | set(await self._rolling(connection)))
        rows = await connection.fetch(READINGS, users) if users else []
        total, addresses, top, verified = await connection.fetchrow(TOTALS)
        state = self.state
        state.totals = Totals(
            int(total), int(addresses), None if top is None else int(top), int(verified)
        )
        state.pending = await pending_mints.read(
            connection, now, self.settings.health_pending_mint_window_s
        )
        state.height = listener_height if listener_height is not None else state.totals.height
        readings = {
            r["user_address"]: UserReading(
                user=r["user_address"],
                synced_sats=int(r["new_sats"]),
                bitcoin_sats=int(r["sats"]),
                bitcoin_height=int(r["height"]),
                previous_sats=int(r["previous_sats"]),
                cause=r["cause"],
                block=int(r["block_number"]),
            )
            for r in rows
        }
        for user in users:  # judged again (or no longer judgeable): forget what was said
            state.failed.pop(user, None)
            state.diverging.pop(user, None)
        state.checked += len(users)
        for reading in readings.values():
            if reading.failed_to_zero(self.limits):
                state.failed[reading.user] = reading
            if reading.diverges(self.limits):
                state.diverging[reading.user] = reading
        self.divergences.observe(readings.values(), state.height or 0, self.limits)
        for user in [u for u in self.divergences.since if u not in state.diverging]:
            del self.divergences.since[user]
        horizon = now.timestamp() - self.limits.mass_burn_window_s
        while state.burns and state.burns[0].at.timestamp() < horizon:
            state.burns.popleft()

    async def _new_rows(self, connection: asyncpg.Connection) -> list[str]:
        """Users with syncs or burns written since the last cycle; the burns among them."""
        per_cycle = self.settings.health_oracle_rows_per_cycle
        if self._row_cursor is None:  # first cycle: the recent past, for the burn window
            newest = await connection.fetchval("SELECT coalesce(max(id), 0) FROM balance_history")
            self._row_cursor = max(0, int(newest) - per_cycle)
        rows = await connection.fetch(
            "SELECT id, user_address, previous_sats, new_sats, cause, block_timestamp "
            "FROM balance_history WHERE id > $1 ORDER BY id LIMIT $2",
            self._row_cursor,
            per_cycle,
        )
        for row in rows:
            burned = int(row["previous_sats"]) - int(row["new_sats"])
            to_zero = row["new_sats"] == 0 and burned > 0
            if row["cause"] == "EMERGENCY_BURN" or to_zero:
                self.state.burns.append(
                    Burn(row["user_address"], burned, row["block_timestamp"], row["cause"])
                )
        if rows:
            self._row_cursor = int(rows[-1]["id"])
        return [r["user_address"] for r in rows]

    async def _rolling(self, connection: asyncpg.Connection) -> list[str]:
        per_cycle = self.settings.health_oracle_users_per_cycle
        users: list[str] = [
            r["user_address"]
            for r in await connection.fetch(
                "SELECT DISTINCT user_address FROM bitcoin_addresses "
                "WHERE verified_at IS NOT NULL AND user_address > $1 "
                "ORDER BY user_address LIMIT $2",
                self._user_cursor,
                per_cycle,
            )
        ]
        if len(users) < per_cycle:
            self._user_cursor = ""
            self.state.passes += 1
        else:
            self._user_cursor = users[-1]
        return users

    def conditions(self, now: datetime, supply: Attestation | None) -> list[Condition]:
        state, limits = self.state, self.limits
        cap = self.settings.health_oracle_max_user_alerts
        worst = sorted(state.failed.values(), key=lambda r: r.gap_sats)[:cap]
        found = [judge.fail_to_zero(r) for r in worst]
        lasting = self.divergences.lasting(state.diverging, state.height or 0, limits)
        found += sorted(lasting, key=lambda c: -abs(int(c.details["gap_sats"] or 0)))[:cap]
        burst = judge.mass_burn(state.burns, now, limits)
        if burst is not None:
            found.append(burst)
        totals = state.totals
        # A partial total (an address Bitcoin has not recorded yet) would under-count the BTC.
        if supply is not None and totals is not None and totals.complete:
            short = judge.under_backed(
                supply.rbtc_sats,
                totals.bitcoin_sats,
                totals.height or 0,
                supply.as_of,
                limits,
                pending_mint_sats=state.pending.sats,
            )
            if short is not None:
                found.append(short)
        return found

    def report(self, now: datetime, supply: Attestation | None) -> ReservesReport:
        state, limits = self.state, self.limits
        totals = state.totals
        height = state.height or 0
        gaps = [
            OracleUserGap(
                user=r.user,
                synced_sats=r.synced_sats,
                previous_sats=r.previous_sats,
                bitcoin_sats=r.bitcoin_sats,
                gap_sats=r.gap_sats,
                bitcoin_height=r.bitcoin_height,
                evm_block=r.block,
                cause=r.cause,
                failed_to_zero=r.user in state.failed,
                diverging_blocks=height - self.divergences.since.get(r.user, height),
            )
            for r in sorted(
                {**state.diverging, **state.failed}.values(), key=lambda r: -abs(r.gap_sats)
            )[:SHOWN_GAPS]
        ]
        recent = [
            b for b in state.burns if (now - b.at).total_seconds() <= limits.mass_burn_window_s
        ]
        bitcoin = totals.bitcoin_sats if totals else None
        return ReservesReport(
            supply_sats=supply.rbtc_sats if supply else None,
            attested_btc_sats=supply.btc_sats if supply else None,
            supply_as_of=supply.as_of if supply else None,
            bitcoin_sats=bitcoin,
            pending_mint_sats=state.pending.sats,
            pending_mints=state.pending.mints,
            bitcoin_addresses=totals.addresses if totals else 0,
            verified_addresses=totals.verified if totals else 0,
            bitcoin_height=state.height,
            bitcoin_backing_ratio=(
                bitcoin / supply.rbtc_sats
                if supply and supply.rbtc_sats and bitcoin is not None
                else None
            ),
            users_checked=state.checked,
            passes=state.passes,
            users_failed_to_zero=len(state.failed),
            users_diverging=len(state.diverging),
            burns_in_window=len(recent),
            burned_users_in_window=len({b.user for b in recent}),
            tolerance_sats=limits.tolerance_sats,
            gaps=gaps,
            error=state.error,
        )
