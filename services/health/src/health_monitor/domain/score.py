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
    """One component's two sides: rows in the database, and what the sources say exists."""

    database: int
    source: int


def percent(counts: Counts) -> int:
    """round(100 · database / source) to a whole number, halves up; a source of 0 is 100 %.

    Rows beyond the source (a user the oracle has since forgotten) do not lift it past 100.
    """
    if counts.source <= 0:
        return 100
    held = max(0, min(counts.database, counts.source))
    return (200 * held + counts.source) // (2 * counts.source)


def status(counts: Counts) -> SyncStatus:
    """Complete only when every source item is there: 999 of 1000 rounds to 100 % but is not
    complete, and says so."""
    if counts.database >= counts.source:
        return SyncStatus.COMPLETE
    return SyncStatus.NOT_SYNCED if counts.database <= 0 else SyncStatus.PARTIAL


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
    status: SyncStatus


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
                missing=max(0, side.source - side.database),
                status=status(side),
            )
        )
    return result


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
