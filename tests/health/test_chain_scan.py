"""Health's read of the chain asks the node for about `HEALTH_CHAIN_LOGS_PER_CALL` logs a call,
however dense the chain's blocks: a 1000-block eth_getLogs of a chain with 800 logs a block
made Hardhat build an 800,000-log answer for minutes and gigabytes, and health time out on it."""

from __future__ import annotations

from typing import cast

import asyncpg
from health_monitor.config import Settings
from health_monitor.world.chain_scan import INITIAL_RANGE_BLOCKS, ChainScanner, _Range
from health_monitor.world.rpc import ChainReader, Header
from reservesync.event_decoding import NodeLog

LOGS_PER_BLOCK = 800


def _hash(block: int) -> str:
    return f"0x{block:064x}"


def _log(block: int, index: int) -> NodeLog:
    """A log of no watched contract: read, and skipped as the listener would dead-letter it."""
    return NodeLog(
        address="0x" + "ab" * 20,
        topics=(),
        data="0x",
        block_number=block,
        block_hash=_hash(block),
        tx_hash=_hash(block),
        tx_index=0,
        log_index=index,
        removed=False,
        raw={},
    )


class DenseChain(ChainReader):
    """A node whose every block holds `LOGS_PER_BLOCK` logs; it records the ranges asked."""

    def __init__(self, head: int = 10_000) -> None:
        super().__init__("http://node.invalid")
        self.asked: list[tuple[int, int]] = []
        self.tip = head

    async def head(self) -> int:
        return self.tip

    async def logs(self, first: int, last: int, addresses: list[str]) -> list[NodeLog]:
        self.asked.append((first, last))
        return [_log(b, i) for b in range(first, last + 1) for i in range(LOGS_PER_BLOCK)]

    async def headers(self, numbers: list[int]) -> dict[int, Header]:
        return {n: Header(n, _hash(n), 1_700_000_000 + n) for n in numbers}


class Committed(ChainScanner):
    """The scanner with its Postgres commit recorded instead of made, and its cursor read
    back from the last commit."""

    commits: list[tuple[int, str]]

    async def _commit(self, found: _Range, next_block: int, last_hash: str) -> None:
        self.commits.append((next_block, last_hash))

    async def _cursor(self) -> tuple[int, str | None]:
        return self.commits[-1] if self.commits else (self.settings.chain_start_block, None)


async def test_a_dense_range_is_read_in_calls_of_about_the_log_target() -> None:
    settings = Settings(health_chain_logs_per_call=5000)
    node = DenseChain()
    scanner = Committed(settings, cast(asyncpg.Pool, None), node)  # its commit is recorded
    scanner.commits = []
    assert await scanner._read_range(1000, 1999, logs_budget=10**9)
    sizes = [last - first + 1 for first, last in node.asked]
    assert sizes[0] == INITIAL_RANGE_BLOCKS
    assert max(sizes[1:]) * LOGS_PER_BLOCK <= 2 * 5000, "later calls fit the log target"
    starts = [first for first, _ in node.asked]
    assert starts == [1000, *(last + 1 for _, last in node.asked[:-1])], "no gap, no overlap"
    assert node.asked[-1][1] == 1999
    assert scanner.commits == [(2000, _hash(1999))], "one commit for the digest range"


async def test_an_evaluation_reads_about_its_log_budget_and_the_next_goes_on_from_there() -> None:
    """A digest range of a dense chain holds 800,000 logs: read in one evaluation it kept
    health's report minutes old (ten at 5M events in the end-to-end benchmark). The range is
    committed in parts instead, each evaluation about `HEALTH_CHAIN_LOGS_PER_CYCLE` logs."""
    settings = Settings(
        health_chain_logs_per_call=5000,
        health_chain_logs_per_cycle=40_000,
        health_chain_grace_s=0,
        chain_confirmations=0,
    )
    node = DenseChain(head=1499)
    scanner = Committed(settings, cast(asyncpg.Pool, None), node)
    scanner.commits = []
    read: list[int] = []
    while not scanner.commits or scanner.commits[-1][0] <= 1499:
        before = len(node.asked)
        progress = await scanner.cycle()
        asked = node.asked[before:]
        read.append(sum(last - first + 1 for first, last in asked) * LOGS_PER_BLOCK)
        assert progress.next_block == scanner.commits[-1][0]
        assert len(read) < 200, "the scan does not progress"
    # Give or take one call of about 5,000 logs (the first, of 20 blocks, is 16,000).
    assert max(read) <= 40_000 + 2 * 16_000
    assert len(read) >= 1_500 * LOGS_PER_BLOCK // (40_000 + 2 * 16_000)
    starts = [first for first, _ in node.asked]
    assert starts == [0, *(last + 1 for _, last in node.asked[:-1])], "no gap, no overlap"
    assert scanner.commits[-1][0] == 1500
    assert all(h == _hash(n - 1) for n, h in scanner.commits), "each cursor names its block"
