"""Fetching one block range until it is known complete: logs and headers together, the range
adapted to the provider, and the answer checked before anyone may publish it.

While a range is checked (a receipts read for its last block with logs), the next range of a
backfill is already asked for: the node works on it instead of waiting for the check. That
answer is taken only by a fetch that starts where it starts, so a range the check cut short, or
a reorg, just drops it.
"""

from __future__ import annotations

import asyncio
import logging
import time

from reservesync.log_ranges import RangeSizer

from chain_listener import metrics
from chain_listener.completeness import CompletenessCheck, InconsistentAnswer, VerifiedRange
from chain_listener.node import BlockHeader, Log, Node
from chain_listener.ranges import BlockRange, range_refusal
from chain_listener.rpc import RpcError, RpcUnavailable

log = logging.getLogger(__name__)

LOG_ATTEMPTS = 2
"""Tries of one eth_getLogs before its range is halved: a range that keeps timing out is
more likely too heavy than unlucky."""
PAUSE_S = 0.5
"""Wait before asking again after an answer that contradicted itself (a reorg in flight)."""


class ParentMismatch(Exception):
    """The range does not continue the last block handed on: the chain reorganised."""


Answer = tuple[list[BlockHeader | None], list[Log], float]
"""A range's headers, its logs and how long the node took to answer."""


class RangeFetcher:
    def __init__(self, node: Node, check: CompletenessCheck, sizer: RangeSizer) -> None:
        self.node = node
        self.check = check
        self.sizer = sizer
        self._ahead: tuple[BlockRange, asyncio.Task[Answer]] | None = None
        """The next range of a backfill, asked for while the last one was checked."""

    def close(self) -> None:
        """Drops the answer asked for ahead, if any: nobody will take it."""
        if self._ahead is not None:
            _discard(self._ahead[1])
            self._ahead = None

    async def fetch(self, first: int, last: int, parent_hash: str | None) -> VerifiedRange:
        """The complete logs and headers of `[first, x]` for some x ≤ `last` (the range the
        provider allows now); raises `ParentMismatch` when `first`'s parent is not
        `parent_hash`."""
        while True:
            blocks, answering = self._answering(first, last)
            metrics.RANGE_SIZE.set(blocks.size)
            try:
                headers, logs, elapsed_s = await answering
            except RpcError as error:
                if not self._refused(blocks, error):
                    await asyncio.sleep(PAUSE_S)
                continue
            except RpcUnavailable as error:
                log.warning(
                    "eth_getLogs keeps failing, halving the range",
                    extra={"range": str(blocks), "kind": error.kind},
                )
                self.sizer.too_slow(blocks.size)
                continue
            self.sizer.succeeded(blocks.size, elapsed_s, len(logs))
            self._ask_ahead(blocks.last + 1, last)
            parent = headers[0].parent_hash if headers[0] is not None else None
            if None not in (parent_hash, parent) and parent != parent_hash:
                self.close()  # the next range continues a chain that is gone
                raise ParentMismatch(f"block {first}'s parent is {parent}, not {parent_hash}")
            try:
                verified = await self.check.verify(blocks, headers, logs)
            except InconsistentAnswer as error:
                metrics.INCOMPLETE_ANSWERS.labels("inconsistent").inc()
                log.warning(
                    "inconsistent answer, fetching the range again",
                    extra={"range": str(blocks), "reason": str(error)},
                )
                await asyncio.sleep(PAUSE_S)
                continue
            if verified.truncated:
                log.warning(
                    "truncated eth_getLogs answer, fetching the rest again",
                    extra={"range": str(blocks), "complete_through": verified.blocks.last},
                )
                self.sizer.truncated(verified.blocks.size)
            return verified

    def _answering(self, first: int, last: int) -> tuple[BlockRange, asyncio.Task[Answer]]:
        """The range from `first` to ask for and its answer: the one asked for ahead where it
        starts at `first` and ends by `last`, else a new one of the sizer's size."""
        ahead, self._ahead = self._ahead, None
        if ahead is not None:
            blocks, answering = ahead
            if blocks.first == first and blocks.last <= last:
                return blocks, answering
            _discard(answering)
        return self._ask(first, last)

    def _ask_ahead(self, first: int, last: int) -> None:
        """Asks for the range after one just answered, while that one is checked; nothing at
        the head (`first` past `last`), where no block is ready yet."""
        if first <= last:
            self._ahead = self._ask(first, last)

    def _ask(self, first: int, last: int) -> tuple[BlockRange, asyncio.Task[Answer]]:
        """The range of the sizer's size from `first` (ending by `last`), and its answer."""
        blocks = BlockRange(first, min(last, first + self.sizer.size - 1))
        return blocks, asyncio.ensure_future(self._answer(blocks))

    async def _answer(self, blocks: BlockRange) -> Answer:
        started = time.monotonic()
        headers, logs = await asyncio.gather(
            self.node.headers(range(blocks.first, blocks.last + 1)),
            self.node.logs(blocks.first, blocks.last, attempts=LOG_ATTEMPTS),
        )
        return headers, logs, time.monotonic() - started

    def _refused(self, blocks: BlockRange, error: RpcError) -> bool:
        """Adapt to a JSON-RPC error; returns whether it was a known range refusal."""
        refusal = range_refusal(error) if error.method == "eth_getLogs" else None
        if refusal is None:
            # An error we do not know: a smaller range is the one change that may help, and
            # the caller pauses so an error that never goes away is not a busy loop.
            metrics.RPC_ERRORS.labels("rpc_error").inc()
            log.error("rpc call failed", extra={"range": str(blocks), "error": str(error)[:500]})
            self.sizer.too_slow(blocks.size)
            return False
        metrics.RPC_ERRORS.labels("range_refused").inc()
        log.info(
            "provider refused the range",
            extra={
                "range": str(blocks),
                "suggested": refusal.suggested_size,
                "error": error.message[:300],
            },
        )
        self.sizer.refused(blocks.size, refusal.suggested_size)
        return True


def _discard(answering: asyncio.Task[Answer]) -> None:
    """Cancels an answer nobody will take; one that already failed has its error read, so
    asyncio does not report it as never retrieved."""
    if not answering.cancel() and not answering.cancelled():
        answering.exception()
