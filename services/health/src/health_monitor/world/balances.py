"""A rolling spot check of per-user balances: the database's latest synced balance (its
`balance_history`, at or below block B) against the chain's own `OracleAggregator.lastSyncedSats`
at block B (B: the last block health has read). `HEALTH_BALANCE_CHECKS_PER_CYCLE` users a cycle,
in address order, wrapping around: every user is checked within users / checks cycles."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import asyncpg
from eth_utils.crypto import keccak
from reservesync.contracts import SystemContract

from health_monitor.config import Settings
from health_monitor.world.rpc import ChainReader

SELECTOR = "0x" + keccak(text="lastSyncedSats(address)")[:4].hex()


@dataclass(frozen=True)
class Mismatch:
    user: str
    database_sats: int
    chain_sats: int
    block: int

    def describe(self) -> str:
        return (
            f"balance of {self.user} at block {self.block}: database {self.database_sats:,} "
            f"sats, chain {self.chain_sats:,}"
        )


@dataclass
class BalanceCheck:
    checked: int = 0
    passes: int = 0
    """Complete passes over every user."""


class BalanceChecker:
    def __init__(self, settings: Settings, pool: asyncpg.Pool, reader: ChainReader) -> None:
        aggregator = settings.chain_contracts.get(SystemContract.ORACLE_AGGREGATOR)
        self.aggregator = aggregator.address if aggregator else None
        self.at_least = settings.health_balance_checks_per_cycle
        self.at_most = max(self.at_least, settings.health_balance_checks_max)
        self.pass_s = settings.health_balance_pass_s
        self.period_s = settings.health_interval_s
        """Seconds between two cycles as measured (a loaded health cycles slower than asked)."""
        self._last_cycle: float | None = None
        self.users = 0
        """How many users a pass meets: counted once at start, then learnt from each pass."""
        self.seen_this_pass = 0
        self.pool = pool
        self.reader = reader
        self.cursor = ""
        self.state = BalanceCheck()
        self.mismatches: dict[str, Mismatch] = {}

    @property
    def per_cycle(self) -> int:
        """Enough users a cycle to cover all of them within the pass time, within bounds."""
        needed = math.ceil(self.users / max(1.0, self.pass_s / self.period_s))
        return min(self.at_most, max(self.at_least, needed))

    async def cycle(self, block: int | None) -> list[Mismatch]:
        if self.aggregator is None or block is None or block < 0 or self.at_least <= 0:
            return []
        now = time.monotonic()
        if self._last_cycle is not None:
            self.period_s = 0.8 * self.period_s + 0.2 * (now - self._last_cycle)
        self._last_cycle = now
        async with self.pool.acquire() as connection:
            if self.state.passes == 0 and not self.cursor:
                self.users = int(await connection.fetchval("SELECT count(*) FROM users"))
            limit = self.per_cycle
            users = [
                r["address"]
                for r in await connection.fetch(
                    "SELECT address FROM users WHERE address > $1 ORDER BY address LIMIT $2",
                    self.cursor,
                    limit,
                )
            ]
            self.seen_this_pass += len(users)
            if len(users) < limit:
                self.cursor = ""  # wrapped: the next cycle starts over
                self.state.passes += 1
                self.users, self.seen_this_pass = self.seen_this_pass, 0
            else:
                self.cursor = users[-1]
            if not users:
                return list(self.mismatches.values())
            synced = {
                r["user_address"]: int(r["new_sats"])
                for r in await connection.fetch(
                    "SELECT DISTINCT ON (user_address) user_address, new_sats FROM balance_history "
                    "WHERE user_address = ANY($1::text[]) AND block_number <= $2 "
                    "ORDER BY user_address, block_number DESC, log_index DESC",
                    users,
                    block,
                )
            }
        on_chain = await self.reader.calls(
            [(self.aggregator, SELECTOR + "0" * 24 + u[2:]) for u in users], block
        )
        for user, answer in zip(users, on_chain, strict=True):
            chain_sats = int(answer, 16) if answer not in ("0x", "") else 0
            database_sats = synced.get(user, 0)
            if chain_sats != database_sats:
                self.mismatches[user] = Mismatch(user, database_sats, chain_sats, block)
            else:
                self.mismatches.pop(user, None)
        self.state.checked += len(users)
        return list(self.mismatches.values())
