"""When to raise and resolve alerts, without flapping.

A condition must hold for `raise_after_s` before its alert fires, and be gone for
`resolve_after_s` before it resolves; in between nothing is said. Severity rises at once and
falls only after the lower severity has held for `resolve_after_s`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from reservesync.messages import Alert, AlertState, Severity

from health_monitor.domain.burrow import LagStatus
from health_monitor.domain.lag import GroupLag
from health_monitor.domain.reserves import Attestation
from health_monitor.domain.score import ComponentHealth, SyncStatus

OWN_PREFIX = "health:"
"""Ids of the alerts this service raises (others on the topic are surfaced, not managed)."""
Details = dict[str, str | int | float | bool | None]
RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.CRITICAL: 2}


@dataclass(frozen=True)
class Condition:
    alert_id: str
    kind: str
    severity: Severity
    summary: str
    details: Details = field(default_factory=dict)
    raise_after_s: float | None = None
    """How long it must hold before firing, when not the book's default."""


@dataclass(frozen=True)
class Thresholds:
    warn_score: float = 95.0
    critical_score: float = 80.0


def conditions(
    score: float,
    components: Sequence[ComponentHealth],
    groups: Sequence[GroupLag],
    dlq_growth: Mapping[str, int],
    thresholds: Thresholds,
    *,
    writer_catching_up: bool = False,
    reserves: Attestation | None = None,
    conflicts: Mapping[str, int] | None = None,
) -> list[Condition]:
    """What is wrong right now, one condition per alert id.

    While the db-writer is behind but keeping up (lag, Burrow status OK), a component short of
    its source is in flight, not missing: no component alert then (the score still shows it,
    and a writer that stops turns its lag STOP, which alerts)."""
    found = [] if score >= thresholds.warn_score else [_score_low(score, thresholds)]
    if not writer_catching_up:
        found += [_not_synced(c) for c in components if c.status is not SyncStatus.COMPLETE]
    found += [c for c in map(_lagging, groups) if c is not None]
    found += [_dead_letters(topic, n) for topic, n in sorted(dlq_growth.items()) if n > 0]
    found += [_conflicting(topic, n) for topic, n in sorted((conflicts or {}).items()) if n > 0]
    if reserves is not None and not reserves.fully_backed:
        found.append(_under_backed(reserves))
    return found


def _score_low(score: float, thresholds: Thresholds) -> Condition:
    critical = score < thresholds.critical_score
    limit = thresholds.critical_score if critical else thresholds.warn_score
    return Condition(
        f"{OWN_PREFIX}score",
        "health_score_low",
        Severity.CRITICAL if critical else Severity.WARNING,
        f"health score {score:g}% is below {limit:g}%",
        {"score": score, "threshold": limit},
    )


def _not_synced(component: ComponentHealth) -> Condition:
    return Condition(
        f"{OWN_PREFIX}component:{component.component.value}",
        "component_not_synced",
        Severity.CRITICAL if component.status is SyncStatus.NOT_SYNCED else Severity.WARNING,
        f"{component.title}: {component.database_count} of {component.source_count} "
        f"in the database ({component.status.value.lower()})",
        {
            "component": component.component.value,
            "database": component.database_count,
            "source": component.source_count,
            "missing": component.missing,
        },
    )


def _lagging(group: GroupLag) -> Condition | None:
    # Lag alone is normal under load; only partitions Burrow's rules call stalled or stopped alert.
    stuck = [p for p in group.partitions if p.status in (LagStatus.STALL, LagStatus.STOP)]
    if not stuck:
        return None
    return Condition(
        f"{OWN_PREFIX}lag:{group.group}",
        "consumer_lag",
        Severity.CRITICAL,
        f"consumer group {group.group} is {group.status.value}: {group.lag} messages "
        f"behind, oldest {group.max_lag_seconds:.0f}s",
        {
            "group": group.group,
            "status": group.status.value,
            "lag": group.lag,
            "max_lag_seconds": group.max_lag_seconds,
            "partitions": ", ".join(f"{p.topic}/{p.partition}" for p in stuck[:20]),
        },
    )


def _dead_letters(topic: str, grown: int) -> Condition:
    return Condition(
        f"{OWN_PREFIX}dlq:{topic}",
        "dead_letters_growing",
        Severity.WARNING,
        f"{grown} records of {topic} went to the dead-letter topic recently",
        {"source_topic": topic, "new_dead_letters": grown},
    )


def _conflicting(topic: str, count: int) -> Condition:
    # Two messages with one idempotency key and different content: one of them is false (a
    # forged or buggy producer); the database kept the first. Someone must look.
    return Condition(
        f"{OWN_PREFIX}conflict:{topic}",
        "conflicting_duplicate",
        Severity.CRITICAL,
        f"{count} records of {topic} reused an idempotency key with other content recently "
        "(dead-lettered; the first content was kept)",
        {"source_topic": topic, "conflicting_duplicates": count},
    )


def _under_backed(reserves: Attestation) -> Condition:
    ratio = reserves.backing_ratio or 0.0
    unbacked = reserves.unbacked_supply_sats
    return Condition(
        f"{OWN_PREFIX}reserves",
        "reserves_under_backed",
        Severity.CRITICAL,
        f"reserves under-backed: {reserves.btc_sats:,} sats of BTC for {reserves.rbtc_sats:,} "
        f"sats of rBTC supply (ratio {ratio:.4f}), {unbacked:,} sats of supply no synced "
        f"balance backs, as of {reserves.as_of.isoformat()}",
        {
            "total_btc_sats": reserves.btc_sats,
            "total_rbtc_sats": reserves.rbtc_sats,
            "unbacked_supply_sats": unbacked,
            "backing_ratio": round(ratio, 6),
            "as_of": reserves.as_of.isoformat(),
        },
    )


class AlertBook:
    def __init__(self, raise_after_s: float, resolve_after_s: float) -> None:
        self.raise_after_s = raise_after_s
        self.resolve_after_s = resolve_after_s
        self._firing: dict[str, Alert] = {}
        self._pending: dict[str, datetime] = {}
        self._clearing: dict[str, datetime] = {}
        self._lowering: dict[str, datetime] = {}

    @property
    def firing(self) -> list[Alert]:
        return list(self._firing.values())

    def restore(self, alerts: Iterable[Alert]) -> None:
        """Adopt what the alerts topic last said of our alerts (after a restart): one still
        firing there resolves here once its condition is gone, not never."""
        for alert in alerts:
            if not alert.alert_id.startswith(OWN_PREFIX):
                continue
            if alert.state is AlertState.FIRING:
                self._firing[alert.alert_id] = alert
            else:
                self._firing.pop(alert.alert_id, None)

    def update(self, now: datetime, active: Iterable[Condition]) -> list[Alert]:
        """The alerts to announce (fired, re-graded or resolved) at `now`."""
        current = {c.alert_id: c for c in active}
        announced: list[Alert] = []
        for alert_id, condition in current.items():
            self._clearing.pop(alert_id, None)
            firing = self._firing.get(alert_id)
            if firing is None:
                since = self._pending.setdefault(alert_id, now)
                wait = (
                    self.raise_after_s
                    if condition.raise_after_s is None
                    else condition.raise_after_s
                )
                if (now - since).total_seconds() >= wait:
                    del self._pending[alert_id]
                    announced.append(self._fire(condition, now))
            elif self._regraded(firing, condition, now):
                announced.append(self._fire(condition, now))
        for alert_id in [a for a in self._pending if a not in current]:
            del self._pending[alert_id]
        for alert_id in [a for a in self._firing if a not in current]:
            since = self._clearing.setdefault(alert_id, now)
            if (now - since).total_seconds() >= self.resolve_after_s:
                announced.append(self._resolve(alert_id, now))
        return announced

    def _regraded(self, firing: Alert, condition: Condition, now: datetime) -> bool:
        rise = RANK[condition.severity] - RANK[firing.severity]
        if rise >= 0:
            self._lowering.pop(firing.alert_id, None)
            return rise > 0
        since = self._lowering.setdefault(firing.alert_id, now)
        return (now - since).total_seconds() >= self.resolve_after_s

    def _fire(self, condition: Condition, now: datetime) -> Alert:
        self._lowering.pop(condition.alert_id, None)
        alert = Alert(
            alert_id=condition.alert_id,
            kind=condition.kind,
            severity=condition.severity,
            state=AlertState.FIRING,
            summary=condition.summary,
            details=condition.details,
            raised_at=now,
        )
        self._firing[condition.alert_id] = alert
        return alert

    def _resolve(self, alert_id: str, now: datetime) -> Alert:
        firing = self._firing.pop(alert_id)
        self._clearing.pop(alert_id, None)
        self._lowering.pop(alert_id, None)
        return firing.model_copy(
            update={
                "state": AlertState.RESOLVED,
                "summary": f"resolved: {firing.summary}",
                "details": {**firing.details, "firing_since": firing.raised_at.isoformat()},
                "raised_at": now,
            }
        )


def producer_down(name: str, line: str, down_for_s: float, raise_after_s: float) -> Condition:
    return Condition(
        f"{OWN_PREFIX}producer:{name}",
        "producer_down",
        Severity.CRITICAL,
        f"{name} is down (no live heartbeat for {down_for_s:.0f}s): {line}",
        {"producer": name, "line": line[:300], "down_for_s": down_for_s},
        raise_after_s=raise_after_s,
    )


def producer_behind(name: str, summary: str, raise_after_s: float, **details: int) -> Condition:
    return Condition(
        f"{OWN_PREFIX}behind:{name}",
        "producer_behind",
        Severity.WARNING,
        summary,
        {"producer": name, **details},
        raise_after_s=raise_after_s,
    )


def content_diverges(table: str, where: str, counts: Details, raise_after_s: float) -> Condition:
    return Condition(
        f"{OWN_PREFIX}content:{table}",
        "content_diverges",
        Severity.CRITICAL,
        f"{table}: the database differs from the world: {where}",
        {"table": table, "first": where, **counts},
        raise_after_s=raise_after_s,
    )
