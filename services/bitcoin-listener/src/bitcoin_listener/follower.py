"""Following the node's best chain one confirmed block at a time, taking reorgs back, and
rescanning the processed blocks for newly watched addresses.

A block is processed once it has `BTC_CONFIRMATIONS` confirmations (itself included). Before
every step the last processed block is checked against the node: a different block at its
height, or the node saying it left its best chain, is a reorg, and the processed blocks above
the common ancestor are undone; so are processed blocks the chain no longer confirms deep
enough when it got shorter under them. The node is not believed when it contradicts itself: a head
below the processed height while the processed tip is still in its best chain, a block whose
parent is not the block the node reports below it, a block at another height than asked, or no
common ancestor within `BITCOIN_REORG_WINDOW` blocks. Those raise `NodeInconsistent`, and
nothing moves until the node makes sense again.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Mapping

from bitcoin_listener import metrics
from bitcoin_listener.checkpoint import BitcoinCheckpoint, ProcessedBlock
from bitcoin_listener.config import Settings
from bitcoin_listener.node import ChainSource, NodeInconsistent
from bitcoin_listener.outputs import WatchedOutputs

log = logging.getLogger(__name__)


class ChainMoved(Exception):
    """The chain changed under a rescan; the next step finds the reorg and the rescan runs
    again."""


class Follower:
    def __init__(
        self, settings: Settings, node: ChainSource, saved: BitcoinCheckpoint | None
    ) -> None:
        self.settings = settings
        self.node = node
        self.next_height = saved.next_height if saved else settings.bitcoin_start_height
        self.recent: deque[ProcessedBlock] = deque(
            saved.recent if saved else (), maxlen=settings.bitcoin_reorg_window
        )
        self.outputs = WatchedOutputs(saved.outputs if saved else {})
        self.head = 0
        if self.recent:
            metrics.PROCESSED.set(self.recent[-1].height)

    @property
    def tip(self) -> ProcessedBlock | None:
        return self.recent[-1] if self.recent else None

    async def step(self, scripts: Mapping[bytes, str]) -> str:
        """One move: "reorg" (blocks taken back), "block" (one processed) or "idle"."""
        self.head = await self.node.head()
        metrics.HEAD.set(self.head)
        confirmed_through = self.head - self.settings.btc_confirmations + 1
        if await self._tip_replaced() or self._tip_unconfirmed(confirmed_through):
            await self._take_back()
            return "reorg"
        if self.next_height > confirmed_through:
            return "idle"
        block_hash = await self.node.hash_at(self.next_height)
        if block_hash is None:
            return "idle"  # the head moved down since; the next step looks again
        block = await self.node.block(self.next_height, block_hash)
        tip = self.tip
        if tip is not None and block.parent_hash != tip.hash:
            if await self.node.hash_at(tip.height) == tip.hash:
                raise NodeInconsistent(
                    "unknown_parent",
                    f"block {block.hash} at height {block.height} names parent "
                    f"{block.parent_hash}, but the node's block at {tip.height} is {tip.hash}",
                )
            await self._take_back()
            return "reorg"
        if tip is None and block.parent_hash is not None:
            # The block the first one builds on, with nothing of ours in it (nothing below the
            # start height is read): a reorg of the first blocks then has an ancestor to go to.
            when = await self.node.header_time(block.height - 1, block.parent_hash)
            self.recent.append(
                ProcessedBlock(height=block.height - 1, hash=block.parent_hash, time=when)
            )
        self.recent.append(self.outputs.apply(block, scripts))
        self.next_height = block.height + 1
        metrics.PROCESSED.set(block.height)
        return "block"

    async def rescan(self, scripts: Mapping[bytes, str]) -> None:
        """Bring newly watched addresses (`scripts`: script -> address) up to the processed
        height: every processed block from the start height, read again for them alone. What
        a block in the reorg window did to them joins that block's record, so a reorg takes
        it back too."""
        self.outputs.watch(scripts.values())
        try:
            await self._rescan(scripts)
        except BaseException:
            for address in scripts.values():  # half rescanned: watched anew next time
                self.drop(address)
            raise
        metrics.RESCANS.inc()

    async def _rescan(self, scripts: Mapping[bytes, str]) -> None:
        in_window = {b.height: b for b in self.recent}
        for height in range(self.settings.bitcoin_start_height, self.next_height):
            block_hash = await self.node.hash_at(height)
            known = in_window.get(height)
            if block_hash is None or (known is not None and known.hash != block_hash):
                raise ChainMoved(f"block {height} changed during a rescan")
            done = self.outputs.apply(await self.node.block(height, block_hash), scripts)
            if known is not None:
                known.created.extend(done.created)
                known.spent.extend(done.spent)

    def drop(self, address: str) -> None:
        self.outputs.drop(address)
        for block in self.recent:
            block.created = [m for m in block.created if m.address != address]
            block.spent = [m for m in block.spent if m.address != address]

    def _tip_unconfirmed(self, confirmed_through: int) -> bool:
        """The processed tip is still the node's, but the chain got shorter under it (a reorg
        to a shorter branch, which a node may show in steps): it lacks confirmations now."""
        tip = self.tip
        return tip is not None and len(self.recent) > 1 and tip.height > confirmed_through

    async def _tip_replaced(self) -> bool:
        tip = self.tip
        if tip is None:
            return False
        if self.head >= tip.height:
            return await self.node.hash_at(tip.height) != tip.hash
        in_chain = await self.node.in_best_chain(tip.hash)
        if in_chain is False:
            return True
        why = "still has" if in_chain else "does not know"
        raise NodeInconsistent(
            "height_backwards",
            f"the node's height {self.head} is below the processed height {tip.height}, and it "
            f"{why} block {tip.hash} in its best chain: not a reorg",
        )

    async def _take_back(self) -> None:
        """Undo the processed blocks above the common ancestor with the node's best chain."""
        # The head read at the start of the step may predate the reorg (a chain that got
        # shorter): judged with it, a block left with too few confirmations would be kept.
        self.head = await self.node.head()
        metrics.HEAD.set(self.head)
        keep = len(self.recent)
        for index in reversed(range(len(self.recent))):
            block = self.recent[index]
            if block.height <= self.head and await self.node.hash_at(block.height) == block.hash:
                break
            keep = index
        else:
            raise NodeInconsistent(
                "no_common_block",
                f"none of the last {len(self.recent)} processed blocks is in the node's best "
                "chain: a reorg deeper than BITCOIN_REORG_WINDOW, or a node of another chain",
            )
        # Blocks still canonical but no longer confirmed deep enough (the chain got shorter)
        # are taken back too: what is published stands on confirmed blocks only.
        confirmed_through = self.head - self.settings.btc_confirmations + 1
        while keep > 1 and self.recent[keep - 1].height > confirmed_through:
            keep -= 1
        undone = len(self.recent) - keep
        while len(self.recent) > keep:
            self.outputs.undo(self.recent.pop())
        ancestor = self.recent[-1]
        self.next_height = ancestor.height + 1
        metrics.REORGS.inc()
        metrics.PROCESSED.set(ancestor.height)
        log.warning(
            "bitcoin reorg taken back",
            extra={"blocks_undone": undone, "common_ancestor": ancestor.height},
        )
