"""The seed's world as health now sees it: the world (chain logs, the oracle's state and journal)
against the database. In the seed's state (2 of 3 users, no burn, no operation logged while
the oracle's journal holds 14) the score is 68.4 %; once everything is written it is 100 %; an
extra row or an altered one keeps it below, and names where."""

from __future__ import annotations

from health_monitor.db_against_world import Contracts, WorldSide, component_counts
from health_monitor.domain import score
from health_monitor.domain.score import Component, SyncStatus
from health_monitor.world.compare import Divergence, TableVerdict
from health_monitor.world.oracle_world import OracleSnapshot

READY = Contracts(verified=6, pool_ready=True, pool_on_chain=True)


def _oracle(journal: int) -> OracleSnapshot:
    return OracleSnapshot(
        users=3,
        operations_source=14,
        journal=journal,
        digests={},
        items={},
        synced_sats=238_967,
        burns=3,
        burned_sats=251_822,
        verified_addresses=5,
        monitored_addresses=3,
    )


def _verdicts(**tables: TableVerdict) -> dict[str, TableVerdict]:
    agreed = {
        "transactions": TableVerdict("transactions", True, world=11, database=11),
        "users": TableVerdict("users", True, world=3, database=3),
        "emergency_burns": TableVerdict("emergency_burns", True, world=3, database=3),
        "oracle_operations_log": TableVerdict("oracle_operations_log", True, 14, 14),
    }
    return {**agreed, **tables}


def test_the_seed_state_scores_68_4_and_the_full_pipeline_100() -> None:
    seed = _verdicts(
        users=TableVerdict("users", True, world=3, database=2, missing=1),
        emergency_burns=TableVerdict("emergency_burns", True, world=3, database=0, missing=3),
        oracle_operations_log=TableVerdict("oracle_operations_log", True, 14, 0, missing=14),
    )
    legacy = score.components(component_counts(READY, WorldSide(seed, _oracle(14))))
    assert score.total(legacy) == 68.4
    assert {c.component: (c.database_count, c.source_count) for c in legacy} == {
        Component.CONTRACTS: (6, 6),
        Component.TRANSACTIONS: (11, 11),
        Component.USERS: (2, 3),
        Component.EMERGENCY_BURNS: (0, 3),
        Component.ORACLE_OPERATIONS: (0, 14),
        Component.YIELD_SCALES: (1, 1),
    }
    full = score.components(component_counts(READY, WorldSide(_verdicts(), _oracle(14))))
    assert score.total(full) == 100


def test_operations_the_oracle_counts_but_never_journaled_are_missing() -> None:
    # Its counters say 14, its journal lists 12 (all logged): 2 are missing all the same.
    side = WorldSide(
        _verdicts(oracle_operations_log=TableVerdict("oracle_operations_log", True, 12, 12)),
        _oracle(12),
    )
    (operations,) = [
        c
        for c in score.components(component_counts(READY, side))
        if c.component is Component.ORACLE_OPERATIONS
    ]
    assert (operations.source_count, operations.missing, operations.percent) == (14, 2, 86)


def test_an_altered_row_and_a_stale_producer_are_said_and_located() -> None:
    altered = Divergence("transactions", "altered", "31337:0xab:1", 0, (0, 999), "a", "b")
    side = WorldSide(
        _verdicts(
            transactions=TableVerdict(
                "transactions", True, world=11, database=11, altered=1, found=[altered]
            )
        ),
        _oracle(14),
        stale={Component.USERS: "chain-listener down"},
        placed={"transactions": "1 written wrong (content differs from the world)"},
    )
    components = {c.component: c for c in score.components(component_counts(READY, side))}
    transactions = components[Component.TRANSACTIONS]
    assert (transactions.percent, transactions.status) == (91, SyncStatus.PARTIAL)
    assert transactions.where == [
        "transactions blocks 0-999: altered 31337:0xab:1 (database 'a', world 'b')"
    ]
    assert "written wrong" in transactions.reason
    users = components[Component.USERS]
    assert (users.percent, users.stale) == (99, True)
    assert "stale: chain-listener down" in users.reason


def test_a_table_whose_world_was_not_read_is_stale_not_complete() -> None:
    side = WorldSide(
        _verdicts(transactions=TableVerdict("transactions", False, database=11)), _oracle(14)
    )
    (transactions,) = [
        c
        for c in score.components(component_counts(READY, side))
        if c.component is Component.TRANSACTIONS
    ]
    assert (transactions.percent, transactions.status) == (99, SyncStatus.PARTIAL)
