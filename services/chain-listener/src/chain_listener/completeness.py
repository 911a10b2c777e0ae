"""Proof that an eth_getLogs answer holds every log of its range before any of it is published.

Providers truncate large answers silently (a page cut after N results, no error). Such a cut
drops a tail: possibly part of one block and every later block. So, for a fetched range:

- every log must lie inside the range, in a block whose header hash it carries, once;
- each block whose logsBloom says "maybe one of our addresses" but that came back without
  logs is read again from its receipts (eth_getBlockReceipts by hash), and so is the last
  block that has logs (the one a cut may have halved). A block whose receipts show more of our
  logs marks the cut: the range is complete up to and including that block (its logs taken
  from the receipts), and the rest is fetched again.

Receipts, not eth_getLogs by hash (EIP-234), because a node can answer eth_getLogs
successfully without a canonical log — its log index lags or lost a block, while the receipts
hold it (enviodev/hyperindex#1498, filecoin-project/lotus#13749) — and asking the same index
again would repeat the omission. A node without eth_getBlockReceipts (Hardhat) is read one
transaction receipt at a time.

Which blocks are read again: `suspects` (the default) costs one receipts read per range plus
one per bloom match without logs, and catches a truncated tail and a block the index lost
whole; a log dropped from the middle of a block that has other logs, in a block that is not
the range's last, needs `every_block` (receipts of every block with our logs: one more call
per such block).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from eth_utils.crypto import keccak

from chain_listener import metrics
from chain_listener.node import BlockHeader, Log, Node
from chain_listener.ranges import BlockRange

REQUERY_CHUNK = 16
"""Suspect blocks asked again at once; the first incomplete one ends the search."""


class InconsistentAnswer(Exception):
    """Headers and logs that cannot both be true (a reorg between the calls, a broken node):
    the whole range is fetched again."""


@dataclass(frozen=True)
class VerifiedRange:
    blocks: BlockRange
    headers: list[BlockHeader]
    logs: list[Log]
    truncated: bool
    """The node's answer ended early; `blocks` is the complete part."""


def bloom_mask(item: bytes) -> int:
    """The three bits an item sets in a 2048-bit logsBloom (Yellow Paper, M3:2048)."""
    digest = keccak(item)
    mask = 0
    for i in (0, 2, 4):
        mask |= 1 << (((digest[i] << 8) | digest[i + 1]) & 2047)
    return mask


class CompletenessCheck:
    def __init__(self, node: Node, addresses: Sequence[str], *, every_block: bool = False) -> None:
        self.node = node
        self.watched = {a.lower() for a in addresses}
        self.masks = [bloom_mask(bytes.fromhex(a[2:])) for a in self.watched]
        self.every_block = every_block

    def maybe_has_our_logs(self, header: BlockHeader) -> bool:
        return any(header.logs_bloom & mask == mask for mask in self.masks)

    async def verify(
        self, blocks: BlockRange, headers: list[BlockHeader | None], logs: list[Log]
    ) -> VerifiedRange:
        known = self._check_headers(blocks, headers)
        by_block = self._group(blocks, known, logs)
        last_with_logs = max(by_block, default=None)
        for chunk in self._suspects(known, by_block):
            metrics.BLOCK_REQUERIES.inc(len(chunk))
            answers = await self.node.logs_from_receipts(chunk)
            for header, full in zip(chunk, answers, strict=True):
                if full is None:
                    raise InconsistentAnswer(f"block {header.hash} unknown when asked again")
                full.sort(key=lambda e: e.log_index)
                self._check_block(header, full)
                returned = {e.log_index for e in by_block.get(header.number, [])}
                if not returned <= {e.log_index for e in full}:
                    raise InconsistentAnswer(f"block {header.number} lost logs when asked again")
                if len(full) > len(returned):
                    # Nothing returned after it: a cut tail. Logs after it: a hole inside.
                    tail = last_with_logs is None or header.number >= last_with_logs
                    metrics.INCOMPLETE_ANSWERS.labels("truncated" if tail else "omitted").inc()
                    return self._cut_at(blocks, known, by_block, header, full)
        ordered = [entry for number in sorted(by_block) for entry in by_block[number]]
        return VerifiedRange(blocks, known, ordered, truncated=False)

    def _suspects(
        self, known: list[BlockHeader], by_block: dict[int, list[Log]]
    ) -> Iterator[list[BlockHeader]]:
        """The blocks to read again from their receipts, in order, in chunks."""
        suspects = [
            h
            for h in known
            if (self.maybe_has_our_logs(h) and not by_block.get(h.number))
            or (self.every_block and h.number in by_block)
        ]
        if by_block and not self.every_block:
            suspects.append(known[max(by_block) - known[0].number])
        suspects.sort(key=lambda h: h.number)
        for start in range(0, len(suspects), REQUERY_CHUNK):
            yield suspects[start : start + REQUERY_CHUNK]

    @staticmethod
    def _cut_at(
        blocks: BlockRange,
        known: list[BlockHeader],
        by_block: dict[int, list[Log]],
        header: BlockHeader,
        full: list[Log],
    ) -> VerifiedRange:
        kept = [
            entry
            for number in sorted(by_block)
            if number < header.number
            for entry in by_block[number]
        ]
        complete = BlockRange(blocks.first, header.number)
        return VerifiedRange(complete, known[: complete.size], [*kept, *full], truncated=True)

    @staticmethod
    def _check_headers(blocks: BlockRange, headers: list[BlockHeader | None]) -> list[BlockHeader]:
        known = [h for h in headers if h is not None]
        if len(known) != blocks.size:
            raise InconsistentAnswer(f"the node lacks blocks of {blocks} (chain got shorter?)")
        for expected, (header, parent) in enumerate(zip(known[1:], known, strict=False)):
            if header.parent_hash != parent.hash or header.number != blocks.first + expected + 1:
                raise InconsistentAnswer(f"headers of {blocks} do not chain at {header.number}")
        return known

    def _group(
        self, blocks: BlockRange, known: list[BlockHeader], logs: list[Log]
    ) -> dict[int, list[Log]]:
        by_block: dict[int, list[Log]] = {}
        for entry in logs:
            if not blocks.first <= entry.block_number <= blocks.last:
                raise InconsistentAnswer(f"log of block {entry.block_number} outside {blocks}")
            by_block.setdefault(entry.block_number, []).append(entry)
        for number, entries in by_block.items():
            entries.sort(key=lambda e: e.log_index)
            self._check_block(known[number - blocks.first], entries)
        return by_block

    def _check_block(self, header: BlockHeader, entries: list[Log]) -> None:
        previous: Log | None = None
        for entry in entries:
            if entry.block_hash != header.hash or entry.block_number != header.number:
                raise InconsistentAnswer(f"log {entry.log_index} is not of block {header.hash}")
            if entry.removed or entry.address not in self.watched:
                raise InconsistentAnswer(
                    f"log {entry.log_index} of block {header.number} is removed or not ours"
                )
            if previous is not None and (
                entry.log_index <= previous.log_index or entry.tx_index < previous.tx_index
            ):
                raise InconsistentAnswer(f"log indexes of block {header.number} disagree")
            previous = entry
