"""Kafka's copy of the database's offsets: what a refused commit leaves behind is sent again,
and only for partitions the writer still holds."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from aiokafka import TopicPartition
from aiokafka.errors import CommitFailedError
from db_writer.kafka_offsets import KafkaOffsets

A, B = TopicPartition("rbtc.chain.events", 0), TopicPartition("rbtc.chain.events", 1)


class Member:
    """A group member whose commits Kafka refuses while `refusing` holds."""

    def __init__(self, *assigned: TopicPartition) -> None:
        self.assigned = set(assigned)
        self.refusing = False
        self.committed: dict[TopicPartition, int] = {}
        self.before_answer: Callable[[], None] = lambda: None

    def assignment(self) -> set[TopicPartition]:
        return self.assigned

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        await asyncio.sleep(0)
        self.before_answer()
        if self.refusing:
            raise CommitFailedError("the group has rebalanced")
        self.committed.update(offsets)


async def test_a_refused_commit_is_sent_again_after_its_interval() -> None:
    member = Member(A, B)
    now = [100.0]
    offsets = KafkaOffsets(member, retry_every_s=1.0, clock=lambda: now[0])
    member.refusing = True
    offsets.stored({A: 10, B: 4})
    await offsets.commit()
    assert member.committed == {}
    member.refusing = False
    await offsets.commit_deferred()
    assert member.committed == {}, "sent again before its retry interval"
    now[0] += 1.0
    await offsets.commit_deferred()
    assert member.committed == {A: 10, B: 4}
    assert offsets.due == {}


async def test_nothing_is_sent_while_nothing_is_due() -> None:
    member = Member(A)
    offsets = KafkaOffsets(member, retry_every_s=0)
    await offsets.commit_deferred()
    member.refusing = True
    await offsets.commit_deferred()
    assert offsets.due == {}


async def test_a_partition_moved_to_another_writer_is_left_to_it() -> None:
    member = Member(A, B)
    offsets = KafkaOffsets(member)
    offsets.stored({A: 10, B: 4})
    member.assigned = {A}
    await offsets.commit()
    assert member.committed == {A: 10}
    assert offsets.due == {}


async def test_an_offset_stored_while_a_commit_is_on_its_way_is_sent_next() -> None:
    member = Member(A)
    offsets = KafkaOffsets(member)
    offsets.stored({A: 10})
    member.before_answer = lambda: offsets.stored({A: 12})
    await offsets.commit()
    assert member.committed == {A: 10}
    assert offsets.due == {A: 12}
    member.before_answer = lambda: None
    await offsets.commit()
    assert member.committed == {A: 12}


async def test_a_commit_that_hangs_is_given_up_and_kept() -> None:
    member = Member(A)
    hanging = asyncio.Event()

    async def never_answers(offsets: dict[TopicPartition, int]) -> None:
        await hanging.wait()

    member.commit = never_answers  # type: ignore[method-assign]
    offsets = KafkaOffsets(member, timeout_s=0.05)
    offsets.stored({A: 10})
    await asyncio.wait_for(offsets.commit(), timeout=30)
    assert offsets.due == {A: 10}
