"""The evaluation loop: every interval, read the database side, sample the lag, score, raise or
resolve alerts, and keep the result as the snapshot the routes serve (so they are O(1))."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime

from reservesync.contracts import SystemContract

from health_monitor import metrics
from health_monitor.chain import CodeChecker
from health_monitor.config import Settings
from health_monitor.database import DatabaseReader, DatabaseView
from health_monitor.db_against_world import Contracts, WorldSide, component_counts, usage
from health_monitor.domain import score
from health_monitor.domain.alert_feed import AlertFeed
from health_monitor.domain.alerting import AlertBook, Thresholds, conditions
from health_monitor.domain.burrow import LagStatus
from health_monitor.domain.dead_letters import DeadLetterBook, component_of
from health_monitor.domain.lag import GroupLag, LagBook, Offsets
from health_monitor.models import DeadLetterCount, HealthReport, Overall
from health_monitor.notify import Notifier
from health_monitor.offsets import OffsetSampler
from health_monitor.sources import SourceReader
from health_monitor.world_cycle import WorldReaders, WorldState

log = logging.getLogger(__name__)


@dataclass
class Parts:
    """What the monitor reads from and writes to."""

    letters: DeadLetterBook
    feed: AlertFeed
    reader: SourceReader
    database: DatabaseReader
    code: CodeChecker
    sampler: OffsetSampler
    notifier: Notifier
    world: WorldReaders


class Monitor:
    def __init__(self, settings: Settings, parts: Parts) -> None:
        self.settings = settings
        self.parts = parts
        self.lag = LagBook(settings.health_lag_window, settings.health_history_s)
        self.alerts = AlertBook(
            settings.health_alert_raise_after_s, settings.health_alert_resolve_after_s
        )
        self.thresholds = Thresholds(settings.health_warn_score, settings.health_critical_score)
        self.latest: HealthReport | None = None
        self.scores: deque[tuple[datetime, float]] = deque()
        self._groups: list[GroupLag] = []
        self._resumed = False

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            started = time.perf_counter()
            try:
                await self.cycle()
            except Exception:
                metrics.CYCLE_ERRORS.labels("cycle").inc()
                log.exception("health evaluation failed")
            metrics.CYCLE_SECONDS.observe(time.perf_counter() - started)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.settings.health_interval_s)

    async def cycle(self) -> HealthReport:
        started = time.perf_counter()
        now = datetime.now(UTC)
        world = await self.parts.world.read()
        view = await self.parts.database.read(self.settings.chain_id)
        if view.reserves is not None and view.reserves.backing_ratio is not None:
            metrics.BACKING_RATIO.set(view.reserves.backing_ratio)
        metrics.CONFLICTING_DUPLICATES.set(view.conflicting_duplicates)
        contracts = await self._contracts(view)
        groups = await self._sample_lag(now.timestamp())
        side = await self.parts.world.judge(world, self._writer(groups))
        report = self._report(now, view, contracts, groups, world, side)
        report = report.model_copy(
            update={"reserves": self.parts.world.watch.report(now, view.reserves)}
        )
        ready = self.parts.reader.caught_up.is_set()
        if ready:
            if not self._resumed:
                self.alerts.restore(self.parts.feed.own())
                self._resumed = True
            found = conditions(
                report.score,
                report.components,
                report.lag,
                self.parts.letters.growth(now.timestamp(), self.settings.health_dlq_growth_s),
                self.thresholds,
                writer_catching_up=self._writer_catching_up(groups),
                reserves=view.reserves,
                conflicts=self.parts.letters.conflicts(
                    now.timestamp(), self.settings.health_dlq_growth_s
                ),
            )
            found += self.parts.world.conditions(world, side)
            found += self.parts.world.watch.conditions(now, view.reserves)
            announced = self.alerts.update(now, found)
            if announced:
                await self.parts.notifier.announce(announced)
            report = report.model_copy(
                update={"alerts": self.alerts.firing + self.parts.feed.others_firing()}
            )
        self.latest = report
        self._remember(report)
        log.info(
            "health",
            extra={
                "score": report.score,
                "percent": {c.component.value: c.percent for c in report.components},
                "lag": {g.group: g.status.value for g in report.lag},
                "sources_ready": ready,
                "cycle_ms": round(1000 * (time.perf_counter() - started), 1),
            },
        )
        return report

    async def _contracts(self, view: DatabaseView) -> Contracts:
        announced = self.parts.reader.registry.get(SystemContract.YIELD_SCALES_POOL)
        addresses = [c.address for c in view.contracts]
        if announced is not None:
            addresses.append(announced.address)
        present = await self.parts.code.has_code(addresses)

        def on_chain(address: str, registered: bool) -> bool:
            # The chain's answer when it gives one, else what the registry recorded.
            known = present.get(address.lower())
            return registered if known is None else known

        verified = {c.name for c in view.contracts if on_chain(c.address, c.code_present)}
        known_names = {member.value for member in SystemContract}
        return Contracts(
            verified=len(verified & known_names),
            pool_ready=SystemContract.YIELD_SCALES_POOL.value in verified and view.yield_tables,
            pool_on_chain=announced is not None
            and on_chain(announced.address, announced.code_present),
        )

    async def _sample_lag(self, at: float) -> list[GroupLag]:
        try:
            samples = await self.parts.sampler.sample(list(self.settings.health_groups))
        except Exception as exc:  # the score goes on without fresh lag
            metrics.CYCLE_ERRORS.labels("lag").inc()
            log.warning("lag not sampled, showing the last", extra={"error": str(exc)})
            return self._groups
        groups = []
        last = {group.group: group for group in self._groups}
        for sample in samples:
            if not sample.read:
                # Kafka could not say this cycle (a broker restarting): the last reading stands.
                if sample.group in last:
                    groups.append(last[sample.group])
                continue
            behind = {
                tp: (committed, sample.ends[tp])
                for tp, committed in sample.committed.items()
                if sample.ends.get(tp, committed) > committed
            }
            try:
                unwritten = await self.parts.sampler.unwritten(behind)
            except Exception as exc:
                log.warning("unwritten records not read", extra={"error": str(exc)})
                unwritten = {}
            offsets = {}
            for tp, committed in sample.committed.items():
                end = sample.ends.get(tp, committed)
                seen = unwritten.get(tp)
                offsets[(tp.topic, tp.partition)] = Offsets(
                    committed,
                    end,
                    seen.records if seen else max(0, end - committed),
                    seen.oldest_at if seen else None,
                )
            groups.append(self.lag.observe(sample.group, at, offsets, consumer_alive=sample.alive))
        self._groups = groups
        return groups

    def _writer(self, groups: list[GroupLag]) -> GroupLag | None:
        return next((g for g in groups if g.group == self.settings.sink_group), None)

    def _writer_catching_up(self, groups: list[GroupLag]) -> bool:
        writer = self._writer(groups)
        return writer is not None and writer.lag > 0 and writer.status is LagStatus.OK

    def _report(  # noqa: PLR0917 - the cycle's readings, each once
        self,
        now: datetime,
        view: DatabaseView,
        contracts: Contracts,
        groups: list[GroupLag],
        world: WorldState,
        side: WorldSide,
    ) -> HealthReport:
        letters = self.parts.letters
        at = now.timestamp()
        components = score.components(component_counts(contracts, side))
        total = score.total(components)
        growth = letters.growth(at, self.settings.health_dlq_growth_s)
        return HealthReport(
            score=total,
            overall=self._overall(total),
            computed_at=now,
            sources_ready=self.parts.reader.caught_up.is_set(),
            components=components,
            matrix=score.matrix(
                components,
                pool_on_chain=contracts.pool_on_chain,
                pool_awaiting=not view.yield_participants,
            ),
            lag=groups,
            usage=usage(view, side),
            dead_letters=[
                DeadLetterCount(
                    source_topic=topic,
                    component=component_of(topic),
                    total=total_letters,
                    recent=growth.get(topic, 0),
                )
                for topic, total_letters in sorted(letters.total.items())
            ],
            alerts=self.alerts.firing + self.parts.feed.others_firing(),
            world=world.report,
            producers=world.producers,
            canary=self.parts.world.canary_report(),
        )

    def _overall(self, total: float) -> Overall:
        if total < self.thresholds.critical_score:
            return Overall.CRITICAL
        return Overall.DEGRADED if total < self.thresholds.warn_score else Overall.HEALTHY

    def _remember(self, report: HealthReport) -> None:
        self.scores.append((report.computed_at, report.score))
        horizon = report.computed_at.timestamp() - self.settings.health_history_s
        while self.scores and self.scores[0][0].timestamp() < horizon:
            self.scores.popleft()
        metrics.SCORE.set(report.score)
        metrics.SOURCES_READY.set(int(report.sources_ready))
        for c in report.components:
            metrics.COMPONENT_PERCENT.labels(c.component.value).set(c.percent)
            metrics.COMPONENT_COUNT.labels(c.component.value, "database").set(c.database_count)
            metrics.COMPONENT_COUNT.labels(c.component.value, "source").set(c.source_count)
        for group in report.lag:
            for status in LagStatus:
                metrics.GROUP_STATUS.labels(group.group, status.value).set(
                    int(group.status is status)
                )
            for p in group.partitions:
                labels = (group.group, p.topic, str(p.partition))
                metrics.LAG_MESSAGES.labels(*labels).set(p.lag)
                metrics.LAG_SECONDS.labels(*labels).set(p.lag_seconds)
        for entry in report.dead_letters:
            metrics.DEAD_LETTERS.labels(entry.source_topic).set(entry.total)
        for producer in report.producers:
            metrics.PRODUCER_UP.labels(producer.name).set(int(producer.alive))
        if report.world.chain_head is not None:
            metrics.WORLD_BLOCK.labels("head").set(report.world.chain_head)
        if report.world.chain_read_through is not None:
            metrics.WORLD_BLOCK.labels("read").set(report.world.chain_read_through)
        if report.canary is not None and report.canary.last_round_trip_s is not None:
            metrics.CANARY_SECONDS.set(report.canary.last_round_trip_s)
        if report.reserves is not None:
            metrics.observe_reserves(report.reserves)
