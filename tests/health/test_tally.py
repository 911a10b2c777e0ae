"""The source side: what the producers published, counted the way the database keeps it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from health_monitor.domain.idset import FRESH_LIMIT, IdSet
from health_monitor.domain.tally import ORACLE_OPERATION, SourceTally
from reservesync.contracts import SystemContract
from reservesync.identity import burn_key
from reservesync.messages import OracleAction
from support.messages import T0, chain_event, deposited, random_hash, synced

from health.builders import (
    OFFLINE,
    emergency_burn,
    known_burn,
    new_user,
    operation,
    oracle_state,
    reorg,
)


def test_transactions_are_the_money_movements_and_a_burns_synced_is_not_one() -> None:
    tally = SourceTally()
    user = new_user()
    for event in (
        synced(OFFLINE, user, 120_000, 120_000),
        synced(OFFLINE, user, 90_000, -30_000),
        deposited(OFFLINE, user, 10**16),
        *emergency_burn(OFFLINE, user, 90_000, tx_hash=random_hash()),
    ):
        tally.chain_event(0, event)
    assert dict(tally.transactions_by_type) == {
        "MINT": 1,
        "BURN": 1,
        "DEPOSIT": 1,
        "EMERGENCY_BURN": 1,
    }
    assert tally.transactions == 4
    assert set(tally.users) == {user}
    assert len(tally.burns) == 1


def test_transfers_name_no_user_and_move_nothing() -> None:
    # Synced carries the amount; `to` may be a contract, so it makes no user either.
    tally = SourceTally()
    event = chain_event(
        OFFLINE,
        SystemContract.RBTC_SYNTH,
        "Transfer",
        {"from": "0x" + "0" * 40, "to": new_user(), "amount": "5"},
    )
    tally.chain_event(0, event)
    assert tally.transactions == 0
    assert tally.users == {}


def test_a_second_copy_of_an_event_counts_once() -> None:
    tally = SourceTally()
    event = synced(OFFLINE, new_user(), 5, 5)
    tally.chain_event(3, event)
    tally.chain_event(3, event)  # a standby listener published it too
    assert tally.transactions == 1


def test_a_reorg_takes_back_what_its_orphaned_blocks_added() -> None:
    tally = SourceTally(reorg_window_blocks=10)
    user = new_user()
    kept, orphaned = random_hash(), random_hash()
    burn_tx = random_hash()
    tally.chain_event(1, synced(OFFLINE, user, 100, 100, block=100, block_hash=kept))
    tally.chain_event(1, synced(OFFLINE, user, 150, 50, block=101, block_hash=orphaned))
    for event in emergency_burn(
        OFFLINE, user, 150, tx_hash=burn_tx, block=101, block_hash=orphaned
    ):
        tally.chain_event(1, event)
    assert (tally.transactions, len(tally.burns)) == (3, 1)
    # The notice on another partition takes nothing of partition 1 back.
    tally.reorg(2, reorg(101, [orphaned]))
    assert tally.transactions == 3
    tally.reorg(1, reorg(101, [orphaned]))
    assert dict(+tally.transactions_by_type) == {"MINT": 1}
    assert tally.burns == {}
    assert set(tally.users) == {user}  # first seen in a block the reorg kept
    # The same transaction mined again in the new block counts again.
    for event in emergency_burn(OFFLINE, user, 150, tx_hash=burn_tx, block=101):
        tally.chain_event(1, event)
    assert (tally.transactions, len(tally.burns)) == (2, 1)


def test_a_user_first_seen_in_an_orphaned_block_is_no_user_of_the_chain() -> None:
    tally = SourceTally(reorg_window_blocks=10)
    ghost, oracle_too = new_user(), new_user()
    orphaned = [random_hash(), random_hash()]
    tally.operation(operation(oracle_too))
    for user in (ghost, oracle_too):
        tally.chain_event(4, synced(OFFLINE, user, 10, 10, block=101, block_hash=orphaned[0]))
        tally.chain_event(4, synced(OFFLINE, user, 20, 10, block=102, block_hash=orphaned[1]))
    tally.reorg(4, reorg(101, orphaned))
    assert tally.users == {oracle_too: ORACLE_OPERATION}
    tally.chain_event(4, synced(OFFLINE, ghost, 10, 10, block=101))
    assert set(tally.users) == {ghost, oracle_too}


def test_blocks_below_the_reorg_window_are_final() -> None:
    tally = SourceTally(reorg_window_blocks=10)
    old = random_hash()
    tally.chain_event(0, synced(OFFLINE, new_user(), 1, 1, block=100, block_hash=old))
    tally.chain_event(0, synced(OFFLINE, new_user(), 1, 1, block=200))
    tally.reorg(0, reorg(100, [old]))  # deeper than the window: nothing is tracked to undo
    assert tally.transactions == 2


def test_users_are_the_union_of_the_oracle_the_operations_and_the_chain() -> None:
    tally = SourceTally()
    on_chain, both, oracle_only, operation_only = (new_user() for _ in range(4))
    tally.chain_event(0, synced(OFFLINE, on_chain, 1, 1))
    tally.chain_event(0, synced(OFFLINE, both, 1, 1))
    tally.oracle_state(oracle_state(both))
    tally.oracle_state(oracle_state(oracle_only))
    tally.operation(operation(operation_only))
    assert set(tally.users) == {on_chain, both, oracle_only, operation_only}
    # The oracle forgets a user (a tombstone): known only if another source knows it.
    tally.oracle_gone(both)
    tally.oracle_gone(oracle_only)
    assert set(tally.users) == {on_chain, both, operation_only}


def test_burns_the_chain_and_the_oracle_both_report_are_one() -> None:
    tally = SourceTally()
    user = new_user()
    tx = random_hash()
    for event in emergency_burn(OFFLINE, user, 90_000, tx_hash=tx):
        tally.chain_event(0, event)
    offchain = known_burn(70_000, None, minutes=5)
    tally.oracle_state(oracle_state(user, burns=[known_burn(90_000, tx), offchain]))
    tally.operation(operation(user, OracleAction.EMERGENCY_BURN, amount=90_000, tx_hash=tx))
    assert set(tally.burns) == {
        burn_key(user, tx, 90_000, T0),
        burn_key(user, None, 70_000, offchain.occurred_at),
    }
    assert (tally.oracle_burns, tally.burned_sats) == (2, 160_000)
    # A newer state without the off-chain burn: the database keeps the row, but the source
    # no longer reports it.
    tally.oracle_state(oracle_state(user, burns=[known_burn(90_000, tx)]))
    assert len(tally.burns) == 1


def test_operations_are_what_the_oracle_performed_or_published_per_user() -> None:
    tally = SourceTally()
    busy, quiet = new_user(), new_user()
    tally.oracle_state(oracle_state(busy, performed=5))  # legacy: nothing published
    assert tally.operations == 5
    ops = [operation(busy) for _ in range(5)]
    for op in ops:
        tally.operation(op)
    tally.operation(ops[0])  # a retry published after a restart: the same id
    assert tally.operations == 5
    # Published without a state, or more than the counter says: the published count.
    for _ in range(3):
        tally.operation(operation(quiet))
    tally.operation(operation(busy))
    assert tally.operations == 6 + 3
    tally.oracle_state(oracle_state(busy, performed=9))
    assert tally.operations == 9 + 3
    tally.oracle_gone(busy)
    assert tally.operations == 6 + 3


def test_an_older_state_published_later_changes_nothing() -> None:
    tally = SourceTally()
    user = new_user()
    now = datetime.now(UTC)
    tally.oracle_state(oracle_state(user, performed=7, synced_sats=500, as_of=now))
    tally.oracle_state(oracle_state(user, performed=3, synced_sats=100, as_of=now - timedelta(1)))
    assert (tally.operations, tally.synced_sats) == (7, 500)


def test_usage_figures_from_the_oracle_states() -> None:
    tally = SourceTally()
    tally.oracle_state(oracle_state(new_user(), synced_sats=100_000, addresses=2, monitored=1))
    tally.oracle_state(oracle_state(new_user(), synced_sats=38_967, addresses=3, monitored=2))
    assert tally.synced_sats == 138_967
    assert tally.bitcoin_addresses == (5, 3)


def test_an_id_set_at_scale_with_removals() -> None:
    ids = IdSet()
    names = [f"31337:0x{i:064x}:0" for i in range(3 * FRESH_LIMIT + 17)]
    assert all(ids.add(name) for name in names)
    assert len(ids) == len(names)
    assert not ids.add(names[5])
    assert not ids.add(names[-1])
    ids.discard(names[5])  # merged into a sorted run by now
    ids.discard(names[-1])  # still fresh
    ids.discard("never-added")
    assert names[5] not in ids
    assert names[-1] not in ids
    assert names[6] in ids
    assert len(ids) == len(names) - 2
    assert ids.add(names[5])
    assert names[5] in ids
