"""Both sides of every component, from the database view and the source tallies: the counts
the score compares and the usage figures the report shows. No I/O: what it gets is read."""

from __future__ import annotations

from dataclasses import dataclass

from reservesync.contracts import SystemContract

from health_monitor.database import DatabaseView
from health_monitor.domain.dead_letters import DeadLetterBook
from health_monitor.domain.score import Component, Counts
from health_monitor.domain.tally import SourceTally
from health_monitor.models import Usage


@dataclass(frozen=True)
class Contracts:
    verified: int
    """Registered system contracts whose code is on chain."""
    pool_ready: bool
    """YieldScalesPool registered with code, its tables in place."""
    pool_on_chain: bool
    """The pool the chain-listener announced has code on chain."""


def component_counts(
    view: DatabaseView,
    contracts: Contracts,
    tally: SourceTally,
    letters: DeadLetterBook,
    at: float,
) -> dict[Component, Counts]:
    """Database against source per component; recent unreadable dead letters count as
    missing items of the component their topic feeds."""

    def source(component: Component, published: int) -> int:
        return published + letters.against(component, at)

    rows = view.rows
    return {
        Component.CONTRACTS: Counts(
            contracts.verified, source(Component.CONTRACTS, len(SystemContract))
        ),
        Component.TRANSACTIONS: Counts(
            rows["transactions"], source(Component.TRANSACTIONS, tally.transactions)
        ),
        Component.USERS: Counts(rows["users"], source(Component.USERS, len(tally.users))),
        Component.EMERGENCY_BURNS: Counts(rows["emergency_burns"], len(tally.burns)),
        Component.ORACLE_OPERATIONS: Counts(
            rows["oracle_operations_log"],
            source(Component.ORACLE_OPERATIONS, tally.operations),
        ),
        Component.YIELD_SCALES: Counts(int(contracts.pool_ready), 1),
    }


def usage(view: DatabaseView, tally: SourceTally) -> Usage:
    verified, monitored = tally.bitcoin_addresses
    rows = view.rows
    return Usage(
        active_users=rows["users"],
        users_pending=max(0, len(tally.users) - rows["users"]),
        total_transactions=rows["transactions"],
        transactions_by_type={k: v for k, v in tally.transactions_by_type.items() if v},
        rbtc_tracked_sats=tally.synced_sats,
        bitcoin_addresses_verified=verified,
        bitcoin_addresses_monitored=monitored,
        emergency_burns_database=rows["emergency_burns"],
        emergency_burns_oracle=tally.oracle_burns,
        emergency_burns_sources=len(tally.burns),
        emergency_burned_sats=tally.burned_sats,
        yield_participants=view.yield_participants,
    )
