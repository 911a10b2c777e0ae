"""Which blocks the completeness check reads again from their receipts, and what it makes of a
receipts answer that holds more of our logs than eth_getLogs did."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import pytest
from chain_listener.completeness import CompletenessCheck, InconsistentAnswer, bloom_mask
from chain_listener.node import BlockHeader, Log, Node
from chain_listener.ranges import BlockRange

OURS = "0x" + "ab" * 20
FIRST = 100


class ReceiptsNode:
    """A node whose receipts hold `truth`; records which blocks were read again."""

    def __init__(self, truth: dict[int, list[Log]]) -> None:
        self.truth = truth
        self.asked: list[int] = []

    async def logs_from_receipts(self, headers: Sequence[BlockHeader]) -> list[list[Log] | None]:
        numbers = [h.number for h in headers]
        self.asked += numbers
        return [list(self.truth.get(n, [])) for n in numbers]


def block_hash(number: int) -> str:
    return f"0x{number:064x}"


def header(number: int, *, ours: bool) -> BlockHeader:
    bloom = bloom_mask(bytes.fromhex(OURS[2:])) if ours else 0
    return BlockHeader(number, block_hash(number), block_hash(number - 1), 0, bloom)


def log(number: int, index: int) -> Log:
    raw: dict[str, Any] = {}
    return Log(
        OURS, (), "0x", number, block_hash(number), f"0x{index:064x}", index, index, False, raw
    )


# Blocks 100..104: our logs in 100 (two), 102 (two) and 103 (one); 101 and 104 have none.
TRUTH = {100: [log(100, 0), log(100, 1)], 102: [log(102, 0), log(102, 1)], 103: [log(103, 4)]}
HEADERS: list[BlockHeader | None] = [header(n, ours=n in TRUTH) for n in range(FIRST, 105)]
BLOCKS = BlockRange(FIRST, 104)


def every_log() -> list[Log]:
    return [entry for number in sorted(TRUTH) for entry in TRUTH[number]]


def check(node: ReceiptsNode, *, every_block: bool = False) -> CompletenessCheck:
    return CompletenessCheck(cast(Node, node), [OURS], every_block=every_block)


async def test_a_complete_answer_costs_one_receipts_read_of_its_last_block() -> None:
    node = ReceiptsNode(TRUTH)
    verified = await check(node).verify(BLOCKS, HEADERS, every_log())
    assert (verified.blocks, verified.truncated) == (BLOCKS, False)
    assert verified.logs == every_log()
    assert node.asked == [103]


async def test_a_block_the_log_index_lost_is_taken_from_its_receipts() -> None:
    node = ReceiptsNode(TRUTH)
    answer = [e for e in every_log() if e.block_number != 102]
    verified = await check(node).verify(BLOCKS, HEADERS, answer)
    # Complete up to and including the lost block; the rest is fetched again.
    assert (verified.blocks, verified.truncated) == (BlockRange(FIRST, 102), True)
    assert verified.logs == [*TRUTH[100], *TRUTH[102]]


async def test_a_cut_tail_ends_the_range_at_its_last_block() -> None:
    node = ReceiptsNode({**TRUTH, 103: [log(103, 4), log(103, 5)]})
    verified = await check(node).verify(BLOCKS, HEADERS, every_log())
    assert (verified.blocks, verified.truncated) == (BlockRange(FIRST, 103), True)
    assert verified.logs[-2:] == [log(103, 4), log(103, 5)]


async def test_one_log_missing_inside_a_middle_block_needs_every_block() -> None:
    answer = [e for e in every_log() if (e.block_number, e.log_index) != (100, 1)]
    by_default = ReceiptsNode(TRUTH)
    passed = await check(by_default).verify(BLOCKS, HEADERS, list(answer))
    assert passed.logs == answer, "the documented blind spot of the cheap mode"

    every = ReceiptsNode(TRUTH)
    verified = await check(every, every_block=True).verify(BLOCKS, HEADERS, list(answer))
    assert (verified.blocks, verified.logs) == (BlockRange(FIRST, 100), TRUTH[100])
    assert every.asked == [100, 102, 103]


async def test_receipts_without_a_log_eth_getlogs_gave_are_inconsistent() -> None:
    node = ReceiptsNode({**TRUTH, 103: []})
    with pytest.raises(InconsistentAnswer, match="lost logs"):
        await check(node).verify(BLOCKS, HEADERS, every_log())
