"""Both sides of every component: the database (its digests) against the world (the chain and
the oracle as health read them), with the content verdicts, the placement of each gap and what
is stale; and the usage figures the report shows. No I/O: what it gets is read."""

from __future__ import annotations

from dataclasses import dataclass, field

from reservesync.contracts import SystemContract

from health_monitor.database import DatabaseView
from health_monitor.domain.score import Component, Counts
from health_monitor.models import Usage
from health_monitor.world.compare import TableVerdict
from health_monitor.world.oracle_world import OracleSnapshot

TABLE_OF = {
    Component.TRANSACTIONS: "transactions",
    Component.USERS: "users",
    Component.EMERGENCY_BURNS: "emergency_burns",
    Component.ORACLE_OPERATIONS: "oracle_operations_log",
}


@dataclass(frozen=True)
class Contracts:
    verified: int
    """Registered system contracts whose code is on chain."""
    pool_ready: bool
    """YieldScalesPool registered with code, its tables in place."""
    pool_on_chain: bool
    """The pool the chain-listener announced has code on chain."""


@dataclass(frozen=True)
class WorldSide:
    verdicts: dict[str, TableVerdict]
    oracle: OracleSnapshot | None
    stale: dict[Component, str] = field(default_factory=dict)
    placed: dict[str, str] = field(default_factory=dict)
    """Per table: where its gap is (not yet published / published, not written / wrong)."""
    in_flight: frozenset[str] = frozenset()
    """Tables whose only gap is rows a live producer or writer is still bringing."""


def component_counts(contracts: Contracts, world: WorldSide) -> dict[Component, Counts]:
    counts = {
        Component.CONTRACTS: Counts(contracts.verified, len(SystemContract)),
        Component.YIELD_SCALES: Counts(int(contracts.pool_ready), 1),
    }
    for component, table in TABLE_OF.items():
        verdict = world.verdicts[table]
        stale = world.stale.get(component)
        if not verdict.known:
            counts[component] = Counts(
                verdict.database,
                verdict.database,
                missing=0,
                extra=0,
                stale=stale or "the world's side was not read",
            )
            continue
        unjournaled = 0
        if component is Component.ORACLE_OPERATIONS and world.oracle is not None:
            # Operations the oracle counts as performed but its journal does not list.
            unjournaled = max(0, world.oracle.operations_source - verdict.world)
        counts[component] = Counts(
            verdict.database,
            verdict.world + unjournaled,
            missing=verdict.missing + unjournaled,
            extra=verdict.extra,
            altered=verdict.altered,
            stale=stale,
            reason=world.placed.get(table),
            where=tuple(d.describe() for d in verdict.found),
        )
    return counts


def usage(view: DatabaseView, world: WorldSide) -> Usage:
    rows = view.rows
    oracle = world.oracle
    users = world.verdicts["users"]
    burns = world.verdicts["emergency_burns"]
    return Usage(
        active_users=rows["users"],
        users_pending=users.missing,
        total_transactions=rows["transactions"],
        transactions_by_type=dict(view.world_tx_types or {}),
        rbtc_tracked_sats=oracle.synced_sats if oracle else 0,
        bitcoin_addresses_verified=oracle.verified_addresses if oracle else 0,
        bitcoin_addresses_monitored=oracle.monitored_addresses if oracle else 0,
        emergency_burns_database=rows["emergency_burns"],
        emergency_burns_oracle=oracle.burns if oracle else 0,
        emergency_burns_sources=burns.world,
        emergency_burned_sats=oracle.burned_sats if oracle else 0,
        yield_participants=view.yield_participants,
    )
