"""Ranges verified while the one before was being published go out with it, in one Kafka
transaction closed by the last one's checkpoint; a reorg keeps its place in the order."""

from __future__ import annotations

import asyncio
from typing import Any, cast

from chain_listener.follower import RangeWork, ReorgWork, Work
from chain_listener.listener import with_queued_ranges


def range_work(head: int) -> RangeWork:
    return RangeWork(
        verified=cast(Any, None), decoded=cast(Any, None), checkpoint=cast(Any, head), head=head
    )


def reorg_work(depth: int) -> ReorgWork:
    return ReorgWork(reorg=cast(Any, depth), checkpoint=cast(Any, -depth))


def queue_of(*works: Work) -> asyncio.Queue[Work]:
    queue: asyncio.Queue[Work] = asyncio.Queue()
    for work in works:
        queue.put_nowait(work)
    return queue


def test_queued_ranges_join_the_first() -> None:
    first, second, third = range_work(1), range_work(2), range_work(3)
    queue = queue_of(second, third)
    assert with_queued_ranges(first, queue) == ([first, second, third], None)
    assert queue.empty()


def test_alone_it_goes_alone() -> None:
    first = range_work(1)
    assert with_queued_ranges(first, queue_of()) == ([first], None)


def test_a_reorg_ends_the_group_and_what_follows_it_waits() -> None:
    first, second, after = range_work(1), range_work(2), range_work(3)
    reorg = reorg_work(2)
    queue = queue_of(second, reorg, after)
    assert with_queued_ranges(first, queue) == ([first, second], reorg)
    assert queue.get_nowait() is after
