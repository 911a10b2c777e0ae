"""Dead letters against the component whose messages they hold, while the DLQ grows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from health_monitor.domain.dead_letters import DeadLetterBook
from health_monitor.domain.score import Component
from reservesync.messages import DeadLetter
from reservesync.topics import CHAIN_EVENTS, ORACLE_OPERATIONS

NOW = datetime(2025, 9, 21, 12, 0, tzinfo=UTC)


def letter(topic: str, offset: int, minutes_ago: float = 0) -> DeadLetter:
    return DeadLetter(
        source_topic=topic,
        partition=0,
        offset=offset,
        key=None,
        value_base64=None,
        error="InvalidMessage: not UTF-8 JSON",
        service="db-writer",
        failed_at=NOW - timedelta(minutes=minutes_ago),
    )


def test_unreadable_records_count_against_their_component_while_recent() -> None:
    book = DeadLetterBook(window_s=3600)
    book.rejected(CHAIN_EVENTS.name, 0, 7)  # the tally could not read it either
    book.add(letter(CHAIN_EVENTS.name, 7, minutes_ago=10))
    # A valid event that Postgres refused: the tally counted it, it is missing already.
    book.add(letter(CHAIN_EVENTS.name, 8, minutes_ago=5))
    book.add(letter(ORACLE_OPERATIONS.name, 3, minutes_ago=90))  # too old to count
    book.add(letter("oracle:/users", 0, minutes_ago=1))  # a state that never reached Kafka
    now = NOW.timestamp()
    assert book.against(Component.TRANSACTIONS, now) == 1
    assert book.against(Component.ORACLE_OPERATIONS, now) == 0
    assert book.against(Component.USERS, now) == 1
    assert book.growth(now, within_s=300) == {"oracle:/users": 1}
    assert book.total == {CHAIN_EVENTS.name: 2, ORACLE_OPERATIONS.name: 1, "oracle:/users": 1}
    # An hour later the DLQ has stopped growing and the score recovers.
    assert book.against(Component.TRANSACTIONS, now + 3600) == 0


def test_a_letter_sent_twice_is_one() -> None:
    book = DeadLetterBook(window_s=3600)
    assert book.add(letter(CHAIN_EVENTS.name, 7))
    assert not book.add(letter(CHAIN_EVENTS.name, 7))
    assert book.total == {CHAIN_EVENTS.name: 1}
    assert len(book.recent) == 1


def test_conflicting_duplicates_are_told_apart_from_other_letters() -> None:
    book = DeadLetterBook(window_s=3600)
    conflicting = "ConflictingDuplicate: conflicting duplicate: '1:0xab:0' was written"
    earlier = letter(ORACLE_OPERATIONS.name, 4, minutes_ago=30)
    book.add(earlier.model_copy(update={"error": conflicting}))
    book.add(letter(CHAIN_EVENTS.name, 7, minutes_ago=1))
    book.add(letter(CHAIN_EVENTS.name, 8, minutes_ago=1).model_copy(update={"error": conflicting}))
    # A record cannot pass for one by what it holds: the start of `error` is the writer's.
    quoted = "InvalidMessage: has no event 'ConflictingDuplicate: conflicting duplicate'"
    book.add(letter(CHAIN_EVENTS.name, 9, minutes_ago=1).model_copy(update={"error": quoted}))
    now = NOW.timestamp()
    assert book.conflicts(now, within_s=300) == {CHAIN_EVENTS.name: 1}
    assert book.conflicts(now, within_s=3600) == {CHAIN_EVENTS.name: 1, ORACLE_OPERATIONS.name: 1}
    assert book.growth(now, within_s=300) == {CHAIN_EVENTS.name: 3}
