"""How health judges a diverging bucket: item by item while the items fit the cycle's budget,
by its digests' counts alone beyond it, so its memory does not follow the chain's density."""

from __future__ import annotations

from health_monitor.world.compare import DRILL_ITEMS, TableVerdict, _judge
from reservesync.digests import Digest, Item


async def test_a_bucket_too_large_to_drill_is_judged_by_its_counts() -> None:
    dense, small = 0, 1
    world = {dense: Digest(DRILL_ITEMS, 1), small: Digest(2, 5)}
    database = {dense: Digest(DRILL_ITEMS - 100, 2), small: Digest(1, 4)}
    drilled: list[int] = []

    async def drill(bucket: int) -> tuple[dict[str, Item], dict[str, Item]]:
        drilled.append(bucket)
        row = Item("transactions", "0xa:0", "content", bucket)
        absent = Item("transactions", "0xb:0", "content", bucket)
        return {"0xa:0": row, "0xb:0": absent}, {"0xa:0": row}

    verdict = TableVerdict("transactions", known=True)
    await _judge(verdict, world, database, drill, blocks=True)
    assert drilled == [small], "the dense bucket is not read item by item"
    assert verdict.missing == 100 + 1
    assert verdict.diverging == 2
    assert [d.key for d in verdict.found] == ["0xb:0"], "the small bucket's divergence is named"
