"""Following the chain: which blocks are ready to publish, in order, and when published blocks
stopped being canonical.

The follower runs ahead of the publisher (a few verified, decoded ranges queued), so it owns the
position: every piece of work it hands on carries the checkpoint that becomes true once that
work is committed, and the publisher only writes it.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from chain_listener import metrics
from chain_listener.checkpoint import Checkpoint
from chain_listener.completeness import VerifiedRange
from chain_listener.config import Settings
from chain_listener.decoder import DecodedRange
from chain_listener.fetcher import ParentMismatch, RangeFetcher
from chain_listener.head_signal import HeadSignal
from chain_listener.node import Node
from chain_listener.reorgs import RecentBlocks, Reorg, find_reorg, tip_replaced

log = logging.getLogger(__name__)

HEAD_REFRESH_S = 1.0
"""While blocks the node last called ready remain to be fetched, the head is asked again at
most this often: a backfill needs no fresh head to know where to go on, and asking it before
every range was a tenth of a local backfill's time."""


@dataclass(frozen=True)
class RangeWork:
    verified: VerifiedRange
    decoded: asyncio.Future[DecodedRange]
    checkpoint: Checkpoint
    head: int


@dataclass(frozen=True)
class ReorgWork:
    reorg: Reorg
    checkpoint: Checkpoint


Work = RangeWork | ReorgWork


class ChainFollower:
    def __init__(
        self,
        settings: Settings,
        node: Node,
        fetcher: RangeFetcher,
        saved: Checkpoint | None,
        heads: HeadSignal,
        *,
        decode: Callable[[VerifiedRange], DecodedRange],
    ) -> None:
        self.settings = settings
        self.node = node
        self.fetcher = fetcher
        self.heads = heads
        self.decode = decode
        self.ready_through = -1
        """The last block the latest step found ready to publish."""
        self.next_block = saved.next_block if saved else settings.chain_start_block
        published = saved.recent_blocks if saved else []
        self.recent = RecentBlocks(settings.chain_reorg_window, published)
        self.head_seen = saved.head_seen if saved else 0
        self._head = self.head_seen
        self._head_asked = -math.inf
        if saved and saved.range_size:
            fetcher.sizer.size = min(saved.range_size, fetcher.sizer.maximum)

    async def run(self, out: asyncio.Queue[Work], stop: asyncio.Event) -> None:
        try:
            while not stop.is_set() and not self.finished:
                self.heads.taken()
                work = await self.step()
                if work is not None:
                    await out.put(work)
                    if not self.caught_up:
                        continue
                # Caught up with the head it last saw: asking again before a block is
                # announced (or the interval passes) would cost calls and find nothing.
                await self.heads.wait(stop)
        finally:
            self.fetcher.close()

    @property
    def caught_up(self) -> bool:
        return self.next_block > self.ready_through

    @property
    def finished(self) -> bool:
        """A backfill with an end block has fetched everything it was asked for."""
        end = self.settings.chain_end_block
        return end is not None and self.next_block > end

    async def step(self) -> Work | None:
        """The next work, or None when nothing is ready yet."""
        head = await self._current_head()
        # How deep a reorg found now reaches is measured from the old chain's head.
        head_before, self.head_seen = self.head_seen, max(self.head_seen, head)
        instant = self.settings.chain_delivery == "instant"
        ready_through = head if instant else head - self.settings.chain_confirmations
        if self.settings.chain_end_block is not None:
            ready_through = min(ready_through, self.settings.chain_end_block)
        self.ready_through = ready_through
        if self.next_block > ready_through:
            # Nothing new to publish; the chain may still have replaced what we published.
            if await tip_replaced(self.node, self.recent, head):
                return await self._reorganise(head_before)
            return None
        try:
            verified = await self.fetcher.fetch(
                self.next_block, ready_through, self.recent.hash_of(self.next_block - 1)
            )
        except ParentMismatch:
            return await self._reorganise(head_before)
        self.recent.extend(verified.headers)
        self.next_block = verified.blocks.last + 1
        # Decoded in a thread while this loop already asks the node for the next range and the
        # publisher commits the one before: the node, the broker and the decoding overlap.
        decoded = asyncio.ensure_future(asyncio.to_thread(self.decode, verified))
        return RangeWork(verified, decoded, self._checkpoint(), head)

    async def _current_head(self) -> int:
        """The head the node last said, asked again unless blocks it made ready remain to be
        fetched and it was asked within `HEAD_REFRESH_S`."""
        now = time.monotonic()
        if self.next_block > self.ready_through or now - self._head_asked >= HEAD_REFRESH_S:
            self._head = await self.node.head()
            self._head_asked = now
            metrics.HEAD.set(self._head)
        return self._head

    async def _reorganise(self, old_head: int) -> ReorgWork:
        reorg = await find_reorg(self.node, self.recent, old_head)
        self.next_block = reorg.fork_block
        self.head_seen = reorg.new_head.number
        # The chain may be shorter now: where to stop is asked again.
        self._head_asked = -math.inf
        log.warning(
            "chain reorganised",
            extra={
                "fork_block": reorg.fork_block,
                "orphaned": len(reorg.orphaned_block_hashes),
                "depth": reorg.depth,
                "new_head": reorg.new_head.number,
            },
        )
        return ReorgWork(reorg, self._checkpoint())

    def _checkpoint(self) -> Checkpoint:
        return Checkpoint(
            chain_id=self.settings.chain_id,
            next_block=self.next_block,
            recent_blocks=self.recent.snapshot(),
            head_seen=self.head_seen,
            range_size=self.fetcher.sizer.size,
        )
