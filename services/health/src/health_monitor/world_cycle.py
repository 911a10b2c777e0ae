"""One reading of the world per evaluation: the producers' heartbeats, the chain's logs (as far
as the cycle's budget goes), the oracle's state and journal; then the content comparison with
the database, where each gap is, what is stale, and what to alert on."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg
from reservesync import digests, ledger
from reservesync.digests import Item

from health_monitor.canary import Canary
from health_monitor.config import Settings
from health_monitor.db_against_world import WorldSide
from health_monitor.domain.alerting import (
    Condition,
    content_diverges,
    producer_behind,
    producer_down,
)
from health_monitor.domain.lag import GroupLag
from health_monitor.models import CanaryReport, WorldReport
from health_monitor.placement import place, stale_components
from health_monitor.producers import (
    BITCOIN_LISTENER,
    CHAIN_LISTENER,
    Producers,
    ProducerStatus,
)
from health_monitor.world.balances import BalanceChecker
from health_monitor.world.chain_scan import ChainProgress, ChainScanner, world_events
from health_monitor.world.compare import SHOWN, Divergence, TableVerdict, compare
from health_monitor.world.oracle_watch import OracleWatcher
from health_monitor.world.oracle_world import OracleSnapshot, OracleWorld
from health_monitor.world.rpc import ChainReader

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorldState:
    producers: list[ProducerStatus]
    progress: ChainProgress | None
    oracle: OracleSnapshot | None
    verdicts: dict[str, TableVerdict]
    listener_next: int | None
    listener_behind: str | None
    report: WorldReport


class WorldReaders:
    def __init__(self, settings: Settings, pool: asyncpg.Pool, canary: Canary) -> None:
        self.settings = settings
        self.pool = pool
        self.reader = ChainReader(settings.chain_rpc_url)
        self.scanner = ChainScanner(settings, pool, self.reader)
        self.oracle = OracleWorld(settings, pool)
        self.balances = BalanceChecker(settings, pool, self.reader)
        self.watch = OracleWatcher(settings, pool)
        self.producers = Producers(settings.health_producers, settings.health_producer_timeout_s)
        self._behind_since: float | None = None
        self.canary = canary

    async def read(self) -> WorldState:
        producers = await self.producers.poll()
        chain_error = None
        chain_next: int | None = None
        progress = None
        if self.scanner.configured:
            try:
                progress = await self.scanner.cycle()
            except Exception as exc:  # the node unreachable: the last reading stands
                chain_error = f"{type(exc).__name__}: {exc}"
                log.warning("chain not read", extra={"error": chain_error})
                progress = self.scanner.progress
            chain_next = progress.next_block if progress else None
        snapshot = await self.oracle.cycle() if self.oracle.configured else None
        verdicts = await compare(self.pool, chain_next, snapshot, self._world_transactions)
        await self._spot_check(verdicts["transactions"], chain_next)
        await self.watch.cycle(datetime.now(UTC), _bitcoin_height(producers))
        listener_next = _listener_next(producers)
        behind = self._listener_behind(progress, listener_next)
        return WorldState(
            producers=producers,
            progress=progress,
            oracle=snapshot,
            verdicts=verdicts,
            listener_next=listener_next,
            listener_behind=behind,
            report=WorldReport(
                chain_head=progress.head if progress else None,
                chain_read_through=chain_next - 1 if chain_next is not None else None,
                chain_error=chain_error
                or (None if self.scanner.configured else "CHAIN_CONTRACTS not set"),
                listener_next_block=listener_next,
                reorg_rewinds=self.scanner.rewinds,
                balances_checked=self.balances.state.checked,
                balance_passes=self.balances.state.passes,
                balance_mismatches=len(self.balances.mismatches),
                oracle_users=snapshot.users if snapshot else None,
                oracle_journal=snapshot.journal if snapshot else None,
                oracle_error=self.oracle.error
                or (None if self.oracle.configured else "ORACLE_* not set"),
            ),
        )

    async def judge(self, state: WorldState, writer: GroupLag | None) -> WorldSide:
        by_name = {p.name: p for p in state.producers}
        placed = {}
        flowing = set()
        for table, verdict in state.verdicts.items():
            placement = place(verdict, by_name, state.listener_next, writer)
            if placement is not None:
                placed[table] = placement.text
                if placement.in_flight:
                    flowing.add(table)
        return WorldSide(
            verdicts=state.verdicts,
            oracle=state.oracle,
            stale=stale_components(state.producers, state.listener_behind),
            placed=placed,
            in_flight=frozenset(flowing),
        )

    def conditions(self, state: WorldState, side: WorldSide) -> list[Condition]:
        soon = self.settings.health_producer_raise_after_s
        found = [
            producer_down(p.name, p.line, p.down_for_s, soon)
            for p in state.producers
            if not p.alive
        ]
        if state.listener_behind:
            found.append(producer_behind(CHAIN_LISTENER, state.listener_behind, soon))
        for table, verdict in state.verdicts.items():
            where = side.placed.get(table)
            if where is None or table in side.in_flight:
                continue
            first = verdict.found[0].describe() if verdict.found else where
            found.append(
                content_diverges(
                    table,
                    first,
                    {
                        "missing": verdict.missing,
                        "extra": verdict.extra,
                        "altered": verdict.altered,
                        "where": where,
                    },
                    soon,
                )
            )
        return found

    async def _spot_check(self, verdict: TableVerdict, chain_next: int | None) -> None:
        """The rolling balance check; a balance the database has wrong is an altered row of
        the ledger the transactions carry (`balance_history` is written from the same syncs)."""
        try:
            mismatches = await self.balances.cycle(None if chain_next is None else chain_next - 1)
        except Exception as exc:
            log.warning("balances not checked", extra={"error": str(exc)})
            return
        verdict.altered += len(mismatches)
        for m in mismatches[: max(0, SHOWN - len(verdict.found))]:
            verdict.found.append(
                Divergence(
                    "balance_history",
                    "altered",
                    m.user,
                    -1,
                    (m.block, m.block),
                    f"{m.database_sats} sats",
                    f"{m.chain_sats} sats (lastSyncedSats)",
                )
            )

    def canary_report(self) -> CanaryReport | None:
        return self.canary.report if self.settings.health_canary_interval_s > 0 else None

    async def _world_transactions(self, first: int, last: int) -> list[Item]:
        """The chain's transaction items of blocks first..last, read again from the node."""
        logs = await self.reader.logs(first, last, self.scanner.decoder.addresses)
        numbers = sorted({entry.block_number for entry in logs})
        headers = await self.reader.headers(numbers)
        items = []
        timestamps = {n: h.timestamp for n, h in headers.items()}
        for event in world_events(self.scanner.decoder, logs, timestamps):
            moved = ledger.movement(event)
            if moved is not None:
                items.append(digests.transaction_item(event, moved))
        return items

    def _listener_behind(
        self, progress: ChainProgress | None, listener_next: int | None
    ) -> str | None:
        if progress is None or listener_next is None:
            self._behind_since = None
            return None
        publishable = progress.head - self.settings.chain_confirmations
        behind = publishable - listener_next + 1
        if behind <= self.settings.health_listener_max_behind_blocks:
            self._behind_since = None
            return None
        now = time.monotonic()
        since = self._behind_since = self._behind_since or now
        if now - since < self.settings.health_listener_max_behind_s:
            return None
        return (
            f"chain-listener {behind} blocks behind the head (at {listener_next}, head "
            f"{progress.head}) for {now - since:.0f}s"
        )


def _bitcoin_height(producers: list[ProducerStatus]) -> int | None:
    """The last Bitcoin height the bitcoin-listener processed, from its heartbeat (when it is
    a watched producer): blocks pass there even when no watched balance changes."""
    listener = next((p for p in producers if p.name == BITCOIN_LISTENER and p.alive), None)
    try:
        return int(listener.facts["next_height"]) - 1 if listener else None
    except (KeyError, ValueError):
        return None


def _listener_next(producers: list[ProducerStatus]) -> int | None:
    listener = next((p for p in producers if p.name == CHAIN_LISTENER), None)
    if listener is None:
        return None
    facts = listener.facts
    try:
        if "next_block" in facts:
            return int(facts["next_block"])
        if "published_block" in facts:
            return int(facts["published_block"]) + 1
    except ValueError:
        return None
    return None
