"""The seed's world through the source tallies: in the legacy pipeline (only `Synced` indexed,
the oracle's topics not written, one oracle user never seen on chain) the score is 68.4 %;
once the full pipeline has republished everything and the oracle has logged its operations,
the sources still count each user, transaction and burn once, and the score is 100 %."""

from __future__ import annotations

from datetime import UTC, datetime

from health_monitor.database import DatabaseView
from health_monitor.domain import score
from health_monitor.domain.dead_letters import DeadLetterBook
from health_monitor.domain.score import Component
from health_monitor.domain.tally import SourceTally
from health_monitor.sides import Contracts, component_counts, usage
from reservesync.messages import ChainEvent, OracleAction, OracleUserState
from support.messages import deposited, random_hash, synced

from health.builders import OFFLINE, emergency_burn, known_burn, new_user, operation, oracle_state

NOW = datetime(2025, 9, 21, 12, 0, tzinfo=UTC).timestamp()
BURNS = (100_000, 90_000, 61_822)  # 251,822 sats
OPERATIONS = (6, 5, 3)  # the oracle's own counters per user
READY = Contracts(verified=6, pool_ready=True, pool_on_chain=True)


def view(users: int, transactions: int, burns: int, operations: int) -> DatabaseView:
    return DatabaseView(
        rows={
            "users": users,
            "transactions": transactions,
            "emergency_burns": burns,
            "oracle_operations_log": operations,
        },
        contracts=[],
        yield_tables=True,
        yield_participants=False,
    )


class SeedWorld:
    def __init__(self) -> None:
        self.alice, self.bob, self.carol = new_user(), new_user(), new_user()
        self.burn_txs = [random_hash() for _ in BURNS]
        self.synced: list[ChainEvent] = []
        self.burn_events: list[ChainEvent] = []
        block = 100
        # 9 mints and 2 burns between alice and bob; carol never reached the chain.
        for user, steps in ((self.alice, (50, 80, 60, 90, 120)), (self.bob, (40, 70, 30, 55))):
            balance = 0
            for step in steps:
                new = step * 1000
                self.synced.append(synced(OFFLINE, user, new, new - balance, block=block))
                balance, block = new, block + 1
        self.synced += [synced(OFFLINE, self.alice, 130_000, 10_000, block=block)]
        self.synced += [synced(OFFLINE, self.bob, 100_000, 45_000, block=block + 1)]
        for tx, sats, user in zip(
            self.burn_txs, BURNS, (self.alice, self.bob, self.alice), strict=True
        ):
            self.burn_events += emergency_burn(OFFLINE, user, sats, tx_hash=tx, block=block + 2)
        self.deposits = [deposited(OFFLINE, u, 10**16) for u in (self.alice, self.bob)]

    def states(self) -> list[OracleUserState]:
        burns = [known_burn(s, tx) for s, tx in zip(BURNS, self.burn_txs, strict=True)]
        return [
            oracle_state(
                self.alice,
                performed=6,
                burns=[burns[0], burns[2]],
                synced_sats=120_000,
                addresses=2,
                monitored=1,
            ),
            oracle_state(
                self.bob,
                performed=5,
                burns=[burns[1]],
                synced_sats=100_000,
                addresses=2,
                monitored=1,
            ),
            oracle_state(self.carol, performed=3, synced_sats=18_967, addresses=1, monitored=1),
        ]


def test_legacy_then_full_pipeline() -> None:
    world = SeedWorld()
    tally, letters = SourceTally(), DeadLetterBook(window_s=3600)
    # Legacy: the listener publishes Synced only (the burns' balance halves among them).
    legacy_synced = world.synced + [e for e in world.burn_events if e.event == "Synced"]
    for event in legacy_synced:
        tally.chain_event(0, event)
    for state in world.states():
        tally.oracle_state(state)
    legacy = score.components(component_counts(view(2, 11, 0, 0), READY, tally, letters, NOW))
    assert score.total(legacy) == 68.4
    assert {c.component: (c.database_count, c.source_count) for c in legacy} == {
        Component.CONTRACTS: (6, 6),
        Component.TRANSACTIONS: (11, 11),
        Component.USERS: (2, 3),
        Component.EMERGENCY_BURNS: (0, 3),
        Component.ORACLE_OPERATIONS: (0, 14),
        Component.YIELD_SCALES: (1, 1),
    }
    seen = usage(view(2, 11, 0, 0), tally)
    assert (seen.active_users, seen.users_pending) == (2, 1)
    assert (seen.bitcoin_addresses_verified, seen.bitcoin_addresses_monitored) == (5, 3)
    assert seen.rbtc_tracked_sats == 238_967
    assert (seen.emergency_burns_oracle, seen.emergency_burned_sats) == (3, 251_822)
    assert seen.transactions_by_type == {"MINT": 9, "BURN": 2}

    # Full pipeline: the listener republishes everything, now with EmergencyBurn and the
    # fee vault's events; the oracle logs its operations (burns among them).
    for event in world.synced + world.burn_events + world.deposits:
        tally.chain_event(0, event)
    for user, count in zip((world.alice, world.bob, world.carol), OPERATIONS, strict=True):
        for _ in range(count - 1):
            tally.operation(operation(user))
        tally.operation(operation(user, OracleAction.BALANCE_CHECK))
    tally.operation(
        operation(
            world.alice, OracleAction.EMERGENCY_BURN, amount=BURNS[0], tx_hash=world.burn_txs[0]
        )
    )
    transactions = 11 + 3 + 2  # syncs, emergency burns, deposits
    full = score.components(
        component_counts(view(3, transactions, 3, 15), READY, tally, letters, NOW)
    )
    assert {c.component: c.source_count for c in full} == {
        Component.CONTRACTS: 6,
        Component.TRANSACTIONS: transactions,
        Component.USERS: 3,
        Component.EMERGENCY_BURNS: 3,
        Component.ORACLE_OPERATIONS: 15,  # alice published one more than her counter said
        Component.YIELD_SCALES: 1,
    }
    assert score.total(full) == 100
