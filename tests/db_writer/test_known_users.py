"""The writer's cache of user evidence it need not upsert again: it skips only what could not
change the database, and forgets what a reorg (or another writer) may have removed."""

from __future__ import annotations

from datetime import timedelta

from db_writer.known_users import KnownUsers
from db_writer.mapping import Row

from tests.support.messages import T0

USER = "0x" + "ab" * 20


def chain(block: int, partition: int = 3) -> Row:
    return {
        "address": USER,
        "first_seen_at": T0 + timedelta(minutes=block),
        "first_seen_block": block,
        "source": "chain",
        "src_topic": "rbtc.chain.events.v1",
        "src_partition": partition,
    }


def test_only_evidence_no_earlier_than_what_is_stored_is_skipped() -> None:
    known = KnownUsers()
    known.committed([chain(100)])
    assert known.needed([chain(101), chain(100)]) == []
    assert known.needed([chain(99)]) == [chain(99)], "an earlier sighting changes the row"
    assert known.needed([chain(101, partition=4)]) == [chain(101, partition=4)]


def test_a_reorg_or_a_rebalance_makes_it_forget() -> None:
    known = KnownUsers()
    known.committed([chain(100), chain(100, partition=4)])
    known.forget_partition("rbtc.chain.events.v1", 3)
    # The notice removed partition 3's evidence: the replacement must be written again.
    assert known.needed([chain(101)]) == [chain(101)]
    assert known.needed([chain(101, partition=4)]) == []
    known.clear()
    assert known.needed([chain(101, partition=4)]) == [chain(101, partition=4)]
