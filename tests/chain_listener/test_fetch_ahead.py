"""A backfill keeps the node busy. The next range is asked for while the last one is checked,
and only a fetch that starts where it starts takes that answer: no range is asked for twice in
a backfill, none ahead at the head, and an answer nobody will take is cancelled. And the head
is asked again only once the blocks it made ready are fetched (or after a while)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import cast

import pytest
from chain_listener import follower
from chain_listener.completeness import CompletenessCheck
from chain_listener.config import Settings
from chain_listener.decoder import DecodedRange
from chain_listener.fetcher import RangeFetcher
from chain_listener.follower import ChainFollower, RangeWork
from chain_listener.head_signal import HeadSignal
from chain_listener.node import BlockHeader, Log, Node
from reservesync.log_ranges import RangeSizer

from tests.chain_listener.test_decisions import ONE_CONTRACT

SIZE = 10
OURS = "0x" + "ab" * 20


def block_hash(number: int) -> str:
    return f"0x{number:064x}"


class QuietNode:
    """A chain of empty blocks (no bloom matches: nothing is read again) that records each
    eth_getLogs range asked for; a range in `held` is answered only once it is released."""

    def __init__(self, held: Sequence[int] = ()) -> None:
        self.asked: list[tuple[int, int]] = []
        self.held = set(held)
        self.release = asyncio.Event()
        self.cancelled: list[tuple[int, int]] = []
        self.changed = asyncio.Event()
        """Set whenever a range is asked for or cancelled."""
        self.head_number = 29
        self.heads_asked = 0

    async def headers(self, numbers: Sequence[int]) -> list[BlockHeader | None]:
        return [BlockHeader(n, block_hash(n), block_hash(n - 1), 0, 0) for n in numbers]

    async def logs(self, first: int, last: int, *, attempts: int | None = None) -> list[Log]:
        self.asked.append((first, last))
        self.changed.set()
        if first in self.held:
            try:
                await self.release.wait()
            except asyncio.CancelledError:
                self.cancelled.append((first, last))
                self.changed.set()
                raise
        return []

    async def head(self) -> int:
        self.heads_asked += 1
        return self.head_number


def fetcher_of(node: QuietNode) -> RangeFetcher:
    as_node = cast(Node, node)
    sizer = RangeSizer(SIZE, SIZE, target_s=2.0, target_logs=5000)
    return RangeFetcher(as_node, CompletenessCheck(as_node, [OURS]), sizer)


async def until(node: QuietNode, happened: Callable[[], bool]) -> None:
    """Lets the tasks run until `happened` (an answer asked ahead reached the node, one was
    cancelled), within a deadline generous on a busy machine."""

    async def waiting() -> None:
        while not happened():
            node.changed.clear()
            await node.changed.wait()

    await asyncio.wait_for(waiting(), timeout=30)


async def test_a_backfill_asks_for_each_range_once_the_next_one_while_checking() -> None:
    node = QuietNode()
    fetcher = fetcher_of(node)
    first = await fetcher.fetch(0, 29, block_hash(-1))
    await until(node, lambda: len(node.asked) == 2)
    assert node.asked == [(0, 9), (10, 19)]
    second = await fetcher.fetch(10, 29, first.headers[-1].hash)
    third = await fetcher.fetch(20, 29, second.headers[-1].hash)
    assert [r.blocks.first for r in (first, second, third)] == [0, 10, 20]
    assert node.asked == [(0, 9), (10, 19), (20, 29)]
    fetcher.close()


async def test_nothing_is_asked_ahead_at_the_head() -> None:
    node = QuietNode()
    fetcher = fetcher_of(node)
    await fetcher.fetch(0, 9, block_hash(-1))
    assert fetcher._ahead is None  # set before `fetch` returns, were anything asked ahead
    assert node.asked == [(0, 9)]


async def test_a_fetch_from_elsewhere_drops_the_answer_asked_ahead() -> None:
    """As after a range the check cut short, or a reorg: the next fetch starts elsewhere."""
    node = QuietNode(held=[10])
    fetcher = fetcher_of(node)
    await fetcher.fetch(0, 29, block_hash(-1))
    await until(node, lambda: len(node.asked) == 2)
    again = await fetcher.fetch(5, 29, block_hash(4))
    assert again.blocks.first == 5
    await until(node, lambda: bool(node.cancelled) and len(node.asked) == 4)
    assert node.cancelled == [(10, 19)]
    assert node.asked == [(0, 9), (10, 19), (5, 14), (15, 24)]
    fetcher.close()


async def test_a_range_asked_ahead_past_a_lower_end_is_not_taken() -> None:
    """The blocks ready shrank (a shorter chain after a reorg): the range asked ahead reaches
    past them, so it is asked again within them."""
    node = QuietNode()
    fetcher = fetcher_of(node)
    await fetcher.fetch(0, 29, block_hash(-1))
    await until(node, lambda: len(node.asked) == 2)
    shorter = await fetcher.fetch(10, 14, block_hash(9))
    assert shorter.blocks.last == 14
    assert node.asked == [(0, 9), (10, 19), (10, 14)]


async def test_closing_cancels_an_answer_still_coming() -> None:
    node = QuietNode(held=[10])
    fetcher = fetcher_of(node)
    await fetcher.fetch(0, 29, block_hash(-1))
    await until(node, lambda: len(node.asked) == 2)
    fetcher.close()
    await until(node, lambda: bool(node.cancelled))
    assert node.cancelled == [(10, 19)]


@pytest.mark.parametrize(("refresh_s", "heads_asked"), [(3600.0, 1), (0.0, 3)])
async def test_a_backfill_asks_for_the_head_again_once_it_reached_it_or_after_a_while(
    monkeypatch: pytest.MonkeyPatch, refresh_s: float, heads_asked: int
) -> None:
    monkeypatch.setenv("CHAIN_CONTRACTS", ONE_CONTRACT)
    monkeypatch.setattr(follower, "HEAD_REFRESH_S", refresh_s)
    settings = Settings(chain_start_block=0, chain_confirmations=0, chain_delivery="instant")
    node = QuietNode()
    following = ChainFollower(
        settings,
        cast(Node, node),
        fetcher_of(node),
        None,
        HeadSignal(1.0, 5.0),
        decode=lambda verified: DecodedRange(),
    )
    for _ in range(3):  # blocks 0..29, the head the node said first
        assert isinstance(await following.step(), RangeWork)
    assert node.heads_asked == heads_asked
    assert following.caught_up
    node.head_number = 39
    assert isinstance(await following.step(), RangeWork)
    assert node.heads_asked == heads_asked + 1
    following.fetcher.close()
