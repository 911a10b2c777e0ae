"""The health score of SPEC section 6: six weighted components, each a whole percent of what
the sources published that the database holds, and the seed's synchronization matrix."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class Component(StrEnum):
    CONTRACTS = "contract_deployment"
    TRANSACTIONS = "transaction_logging"
    USERS = "user_management"
    EMERGENCY_BURNS = "emergency_burns_sync"
    ORACLE_OPERATIONS = "oracle_operations_log"
    YIELD_SCALES = "yieldscales_ready"


@dataclass(frozen=True)
class Spec:
    title: str
    weight: int
    matrix_label: str | None
    """Its row in the synchronization matrix (the seed leaves contracts out of it)."""


SPECS: dict[Component, Spec] = {
    Component.CONTRACTS: Spec("Contract Deployment", 25, None),
    Component.TRANSACTIONS: Spec("Transaction Logging", 20, "Transactions"),
    Component.USERS: Spec("User Management", 20, "Users"),
    Component.EMERGENCY_BURNS: Spec("Emergency Burns Sync", 15, "Emergency Burns"),
    Component.ORACLE_OPERATIONS: Spec("Oracle Operations Log", 10, "Oracle Operations"),
    Component.YIELD_SCALES: Spec("YieldScales Ready", 10, "YieldScales"),
}
# The seed's matrix order, which is not the metrics table's.
MATRIX_ORDER = (
    Component.USERS,
    Component.TRANSACTIONS,
    Component.EMERGENCY_BURNS,
    Component.ORACLE_OPERATIONS,
    Component.YIELD_SCALES,
)


class SyncStatus(StrEnum):
    COMPLETE = "Complete"
    PARTIAL = "Partial"
    NOT_SYNCED = "Not synced"


@dataclass(frozen=True)
class Counts:
    """One component's two sides: rows in the database, and what the world says exists; and,
    where content was compared, how they differ."""

    database: int
    source: int
    missing: int | None = None
    """World items the database lacks (default: the count difference)."""
    extra: int | None = None
    """Database rows the world does not have (default: the count difference)."""
    altered: int = 0
    """Rows whose content differs from the world's."""
    stale: str | None = None
    """Why the component cannot be trusted right now (a producer dead or behind)."""
    reason: str | None = None
    where: tuple[str, ...] = ()
    """The first divergences, located."""

    @property
    def gaps(self) -> tuple[int, int]:
        missing = max(0, self.source - self.database) if self.missing is None else self.missing
        extra = max(0, self.database - self.source) if self.extra is None else self.extra
        return missing, extra

    @property
    def exact(self) -> bool:
        missing, extra = self.gaps
        return not (missing or extra or self.altered)


def percent(counts: Counts) -> int:
    """round(100 · matched / (source + extra)) to a whole number, halves up, where matched is
    the source less what is missing or altered: extra rows lower it as missing ones do. Nothing
    on either side is 100 %. Only an exact, fresh agreement is 100: a gap that rounds away
    (999 of 1000) or a stale component is held at 99.
    """
    missing, extra = counts.gaps
    denominator = counts.source + extra
    if denominator <= 0:
        share = 100
    else:
        matched = max(0, counts.source - missing - counts.altered)
        share = (200 * matched + denominator) // (2 * denominator)
    if share == 100 and (not counts.exact or counts.stale):
        share = 99
    return share


def status(counts: Counts) -> SyncStatus:
    """Complete only when database and world agree exactly and the producers keep up."""
    if counts.exact and not counts.stale:
        return SyncStatus.COMPLETE
    if counts.source > 0 and counts.database - (counts.gaps[1] + counts.altered) <= 0:
        return SyncStatus.NOT_SYNCED
    return SyncStatus.PARTIAL


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class ComponentHealth(_Frozen):
    component: Component
    title: str
    weight: int = Field(description="share of the score, in percent")
    percent: int = Field(ge=0, le=100, description="whole percent of the source in the database")
    contribution: float = Field(description="weight × percent / 100: points of the score")
    database_count: int
    source_count: int
    missing: int = Field(description="source items the database does not hold")
    extra: int = Field(0, description="database rows the world does not have")
    altered: int = Field(0, description="rows whose content differs from the world's")
    stale: bool = Field(False, description="a producer it depends on is dead or behind")
    status: SyncStatus
    reason: str = Field("", description="why it is not complete (or that it is)")
    where: list[str] = Field(
        default_factory=list, description="the first divergences: table, range, key"
    )


class MatrixRow(_Frozen):
    component: str
    database: int | str
    oracle: int | str = Field(description="what the sources (oracle and chain) say, or N/A")
    status: SyncStatus
    note: str | None = Field(None, description="the seed's wording where it says more")


def components(counts: Mapping[Component, Counts]) -> list[ComponentHealth]:
    result = []
    for component, spec in SPECS.items():
        side = counts[component]
        share = percent(side)
        result.append(
            ComponentHealth(
                component=component,
                title=spec.title,
                weight=spec.weight,
                percent=share,
                contribution=spec.weight * share / 100,
                database_count=side.database,
                source_count=side.source,
                missing=side.gaps[0],
                extra=side.gaps[1],
                altered=side.altered,
                stale=side.stale is not None,
                status=status(side),
                reason=_reason(side),
                where=list(side.where),
            )
        )
    return result


def _reason(counts: Counts) -> str:
    parts = []
    missing, extra = counts.gaps
    if counts.exact:
        parts.append(f"database and world agree ({counts.source:,} items)")
    else:
        figures = [f"{missing:,} missing", f"{extra:,} extra", f"{counts.altered:,} altered"]
        parts.append(", ".join(f for f in figures if not f.startswith("0 ")))
    if counts.reason:
        parts.append(counts.reason)
    if counts.stale:
        parts.append(f"stale: {counts.stale}")
    return "; ".join(parts)


def total(scored: list[ComponentHealth]) -> float:
    """The weighted sum, exact: whole percents times whole weights, over 100."""
    return sum(c.weight * c.percent for c in scored) / 100


def matrix(
    scored: list[ComponentHealth], *, pool_on_chain: bool, pool_awaiting: bool
) -> list[MatrixRow]:
    """The seed's matrix: database against the oracle's (and the chain's) side per component."""
    by_component = {c.component: c for c in scored}
    rows = []
    for component in MATRIX_ORDER:
        health = by_component[component]
        label = SPECS[component].matrix_label or health.title
        database: int | str = health.database_count
        oracle: int | str = health.source_count
        note = None
        if component is Component.TRANSACTIONS:
            oracle = "N/A"  # the oracle does not know transactions; the chain does
        elif component is Component.YIELD_SCALES:
            database = "Ready" if health.status is SyncStatus.COMPLETE else "Not ready"
            oracle = "Ready" if pool_on_chain else "Not ready"
            if health.status is SyncStatus.COMPLETE and pool_awaiting:
                note = "Awaiting participants"
        elif component is Component.ORACLE_OPERATIONS and health.status is SyncStatus.NOT_SYNCED:
            note = "Not logged"
        rows.append(
            MatrixRow(
                component=label, database=database, oracle=oracle, status=health.status, note=note
            )
        )
    return rows
