"""The seed's state (SPEC section 6) as counts, and the report the service would give for it."""

from __future__ import annotations

from datetime import UTC, datetime

from health_monitor.domain import score
from health_monitor.domain.score import Component, Counts
from health_monitor.models import HealthReport, Overall, Usage

SEED_COUNTS = {
    Component.CONTRACTS: Counts(6, 6),
    Component.TRANSACTIONS: Counts(11, 11),
    Component.USERS: Counts(2, 3),
    Component.EMERGENCY_BURNS: Counts(0, 3),
    # "0 logged while the oracle is active": the oracle says it performed operations.
    Component.ORACLE_OPERATIONS: Counts(0, 14),
    Component.YIELD_SCALES: Counts(1, 1),
}


def seed_report() -> HealthReport:
    components = score.components(SEED_COUNTS)
    return HealthReport(
        score=score.total(components),
        overall=Overall.CRITICAL,
        computed_at=datetime(2025, 9, 21, 12, 0, tzinfo=UTC),
        sources_ready=True,
        components=components,
        matrix=score.matrix(components, pool_on_chain=True, pool_awaiting=True),
        lag=[],
        usage=Usage(
            active_users=2,
            users_pending=1,
            total_transactions=11,
            transactions_by_type={"MINT": 8, "BURN": 2, "DEPOSIT": 1},
            rbtc_tracked_sats=238_967,
            bitcoin_addresses_verified=5,
            bitcoin_addresses_monitored=3,
            emergency_burns_database=0,
            emergency_burns_oracle=3,
            emergency_burns_sources=3,
            emergency_burned_sats=251_822,
            yield_participants=False,
        ),
        dead_letters=[],
        alerts=[],
    )
