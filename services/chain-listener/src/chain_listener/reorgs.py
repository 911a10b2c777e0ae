"""Reorgs: the hashes of recently published blocks, the fork point when they stop matching the
chain, and what the listener says about it (a `chain.reorg/v1` notice, and an `alert/v1` when
the reorg reaches deeper than the confirmations a consumer was promised)."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from reservesync.messages import Alert, AlertState, BlockRef, ChainReorg, Severity

from chain_listener.node import BlockHeader, Node


class RecentBlocks:
    """The last `window` blocks handed on for publishing, oldest first, without gaps."""

    def __init__(self, window: int, blocks: Iterable[BlockRef] = ()) -> None:
        self.blocks: deque[BlockRef] = deque(blocks, maxlen=window)

    @property
    def tip(self) -> BlockRef | None:
        return self.blocks[-1] if self.blocks else None

    def hash_of(self, number: int) -> str | None:
        if not self.blocks or not self.blocks[0].number <= number <= self.blocks[-1].number:
            return None
        return self.blocks[number - self.blocks[0].number].hash

    def extend(self, headers: Sequence[BlockHeader]) -> None:
        for header in headers:
            if self.blocks and header.number != self.blocks[-1].number + 1:
                self.blocks.clear()  # not a continuation: older hashes would mislead
            if not self.blocks and header.number > 0:
                # The parent we built on, though never published: a fork right after it is
                # then found as such, not as one below everything tracked.
                self.blocks.append(BlockRef(number=header.number - 1, hash=header.parent_hash))
            self.blocks.append(BlockRef(number=header.number, hash=header.hash))

    def cut_from(self, number: int) -> list[str]:
        """Forget blocks from `number` on; returns their hashes, oldest first."""
        removed: list[str] = []
        while self.blocks and self.blocks[-1].number >= number:
            removed.append(self.blocks.pop().hash)
        return removed[::-1]

    def snapshot(self) -> list[BlockRef]:
        return list(self.blocks)


@dataclass(frozen=True)
class Reorg:
    fork_block: int
    """The first height whose published block is no longer canonical."""
    orphaned_block_hashes: list[str]
    new_head: BlockRef
    depth: int
    """Blocks between the fork and the highest head seen before it: how final they looked."""
    beyond_window: bool
    """The fork lies below the tracked hashes: older published blocks may be orphaned too."""

    def notice(self, chain_id: int) -> ChainReorg:
        return ChainReorg(
            chain_id=chain_id,
            fork_block=self.fork_block,
            orphaned_block_hashes=self.orphaned_block_hashes,
            new_head=self.new_head,
        )

    def exceeds(self, confirmations: int) -> bool:
        return self.beyond_window or self.depth > confirmations

    def alert(self, chain_id: int, confirmations: int, delivery: str) -> Alert:
        first = self.orphaned_block_hashes[0] if self.orphaned_block_hashes else "none"
        where = " (below the tracked hashes)" if self.beyond_window else ""
        return Alert(
            # The same reorg found again after a crash gets the same id, not a second alert.
            alert_id=f"chain-reorg:{chain_id}:{self.fork_block}:{first}",
            kind="chain_reorg_beyond_confirmations",
            severity=Severity.CRITICAL,
            state=AlertState.FIRING,
            summary=(
                f"chain {chain_id}: a reorg {self.depth} blocks deep replaced published blocks "
                f"from {self.fork_block}{where}; {delivery} delivery promised {confirmations} "
                "confirmations"
            ),
            details={
                "chain_id": chain_id,
                "fork_block": self.fork_block,
                "depth": self.depth,
                "confirmations": confirmations,
                "delivery": delivery,
                "orphaned_blocks": len(self.orphaned_block_hashes),
                "beyond_window": self.beyond_window,
                "new_head_number": self.new_head.number,
                "new_head_hash": self.new_head.hash,
            },
            raised_at=datetime.now(UTC),
        )


async def tip_replaced(node: Node, recent: RecentBlocks, head: int) -> bool:
    """Whether the last handed-on block is no longer the chain's block at that height.

    A missing block counts only when the head is below it (the chain got shorter): a node
    behind its peers behind one load balancer must not look like a reorg.
    """
    tip = recent.tip
    if tip is None:
        return False
    (header,) = await node.headers([tip.number])
    if header is None:
        return head < tip.number
    return header.hash != tip.hash


async def find_reorg(node: Node, recent: RecentBlocks, head_seen: int) -> Reorg:
    """Compare every tracked hash with the chain; the highest match is the common ancestor.
    Forgets the orphaned blocks from `recent`."""
    tracked = recent.snapshot()
    canonical = await node.headers([ref.number for ref in tracked])
    fork_block, beyond_window = (tracked[0].number, True) if tracked else (0, True)
    for ref, header in zip(reversed(tracked), reversed(canonical), strict=True):
        if header is not None and header.hash == ref.hash:
            fork_block, beyond_window = ref.number + 1, False
            break
    head = await node.latest_header()
    return Reorg(
        fork_block=fork_block,
        orphaned_block_hashes=recent.cut_from(fork_block),
        new_head=BlockRef(number=head.number, hash=head.hash),
        depth=max(head_seen, fork_block) - fork_block + 1,
        beyond_window=beyond_window,
    )
