"""The score of SPEC section 6: the seed's state gives exactly 68.4 %, component by component."""

from __future__ import annotations

import pytest
from health_monitor.domain import score
from health_monitor.domain.score import Component, Counts, SyncStatus

from tests.health.support.seed import SEED_COUNTS


def test_the_seed_fixture_scores_68_4() -> None:
    components = score.components(SEED_COUNTS)
    assert score.total(components) == 68.4
    table = {c.title: (c.percent, c.weight, c.contribution, c.status.value) for c in components}
    assert table == {
        "Contract Deployment": (100, 25, 25.0, "Complete"),
        "Transaction Logging": (100, 20, 20.0, "Complete"),
        "User Management": (67, 20, 13.4, "Partial"),
        "Emergency Burns Sync": (0, 15, 0.0, "Not synced"),
        "Oracle Operations Log": (0, 10, 0.0, "Not synced"),
        "YieldScales Ready": (100, 10, 10.0, "Complete"),
    }
    assert [c.component for c in components] == list(Component)
    assert sum(c.weight for c in components) == 100


def test_the_seed_matrix() -> None:
    components = score.components(SEED_COUNTS)
    matrix = score.matrix(components, pool_on_chain=True, pool_awaiting=True)
    rows = [(m.component, m.database, m.oracle, m.status.value, m.note) for m in matrix]
    assert rows == [
        ("Users", 2, 3, "Partial", None),
        ("Transactions", 11, "N/A", "Complete", None),
        ("Emergency Burns", 0, 3, "Not synced", None),
        ("Oracle Operations", 0, 14, "Not synced", "Not logged"),
        ("YieldScales", "Ready", "Ready", "Complete", "Awaiting participants"),
    ]


def test_everything_synced_is_100() -> None:
    synced = {c: Counts(n.source, n.source) for c, n in SEED_COUNTS.items()}
    components = score.components(synced)
    assert score.total(components) == 100
    assert {c.status for c in components} == {SyncStatus.COMPLETE}


@pytest.mark.parametrize(
    ("database", "source", "percent"),
    [
        (2, 3, 67),  # 66.67 rounds up
        (1, 3, 33),
        (1, 8, 13),  # 12.5: halves round up (Python's round() would say 12)
        (3, 8, 38),  # 37.5
        (0, 0, 100),  # nothing to sync and nothing held is fully synced
        (5, 0, 0),  # rows the world does not have are all wrong
        (4, 3, 75),  # an extra row lowers it as a missing one does: 3 of 4
        (999, 1000, 99),  # a gap never rounds away
        (0, 1, 0),
    ],
)
def test_whole_percent_rounding(database: int, source: int, percent: int) -> None:
    assert score.percent(Counts(database, source)) == percent


def test_rounded_to_100_is_not_complete_while_an_item_is_missing() -> None:
    (transactions,) = [
        c
        for c in score.components({**SEED_COUNTS, Component.TRANSACTIONS: Counts(999, 1000)})
        if c.component is Component.TRANSACTIONS
    ]
    assert transactions.percent == 99
    assert transactions.status is SyncStatus.PARTIAL
    assert transactions.missing == 1


def test_contributions_keep_two_decimals_when_weights_need_them() -> None:
    # 25 × 67 / 100 = 16.75: the score is exact, not rounded twice.
    counts = {**SEED_COUNTS, Component.CONTRACTS: Counts(4, 6), Component.USERS: Counts(3, 3)}
    components = score.components(counts)
    contracts = next(c for c in components if c.component is Component.CONTRACTS)
    assert contracts.contribution == 16.75
    assert score.total(components) == 16.75 + 20 + 20 + 0 + 0 + 10


def test_content_and_staleness_hold_a_component_below_100() -> None:
    altered = score.Counts(10, 10, missing=0, extra=0, altered=1)
    assert (score.percent(altered), score.status(altered)) == (90, SyncStatus.PARTIAL)
    stale = score.Counts(10, 10, stale="chain-listener down")
    assert (score.percent(stale), score.status(stale)) == (99, SyncStatus.PARTIAL)
    (component,) = [
        c
        for c in score.components({**SEED_COUNTS, Component.TRANSACTIONS: altered})
        if c.component is Component.TRANSACTIONS
    ]
    assert component.altered == 1
    assert "1 altered" in component.reason
