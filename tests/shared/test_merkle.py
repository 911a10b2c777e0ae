"""The proof of reserves' Merkle sum tree (`sha256-merkle-sum-v3`): every leaf proves into the
root and both totals, and any change of a leaf, of (B, H) or of a total does not."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from reservesync import merkle

_amounts = st.integers(min_value=0, max_value=2**63 - 1)
holdings = st.dictionaries(
    st.binary(min_size=20, max_size=20),
    st.builds(merkle.Holding, _amounts, _amounts, _amounts, _amounts),
    max_size=70,
)
POINT = merkle.Point(evm_block=1234, btc_height=567)


def records(leaves: dict[bytes, merkle.Holding]) -> bytes:
    return b"".join(merkle.record_of(a, h) for a, h in leaves.items())


def more(holding: merkle.Holding, **extra: int) -> merkle.Holding:
    return merkle.Holding(
        holding.rbtc_sats + extra.get("rbtc", 0),
        holding.wrbtc_sats + extra.get("wrbtc", 0),
        holding.synced_sats + extra.get("synced", 0),
        holding.btc_sats + extra.get("btc", 0),
    )


@settings(max_examples=200, deadline=None)
@given(leaves=holdings)
def test_every_leaf_proves_into_the_root_and_nothing_else_does(
    leaves: dict[bytes, merkle.Holding],
) -> None:
    tree = merkle.build(records(leaves), POINT)
    totals = (tree.total, tree.total_assets)
    assert tree.leaf_count == len(leaves)
    assert tree.total == sum(h.rbtc_sats + h.wrbtc_sats for h in leaves.values())
    assert tree.total_assets == sum(h.btc_sats for h in leaves.values())
    for user, holding in leaves.items():
        index = tree.index_of(user)
        assert index is not None
        assert tree.balance(index) == holding.liability
        assert tree.holding(index) == holding
        steps = tree.proof(index)
        assert len(steps) <= max(1, len(leaves)).bit_length()
        assert merkle.verify(user, POINT, holding, steps, root=tree.root, totals=totals)
        for changed in ("rbtc", "wrbtc", "synced", "btc"):
            assert not merkle.verify(
                user, POINT, more(holding, **{changed: 1}), steps, root=tree.root, totals=totals
            )
        for point in (merkle.Point(1235, 567), merkle.Point(1234, 566)):
            assert not merkle.verify(user, point, holding, steps, root=tree.root, totals=totals)
        # The same sum split otherwise between the tokens is another leaf.
        if holding.rbtc_sats:
            moved = more(holding, rbtc=-1, wrbtc=1)
            assert not merkle.verify(user, POINT, moved, steps, root=tree.root, totals=totals)
        for wrong in ((tree.total + 1, tree.total_assets), (tree.total, tree.total_assets + 1)):
            assert not merkle.verify(user, POINT, holding, steps, root=tree.root, totals=wrong)
    assert tree.index_of(b"\xff" * 21) is None


@settings(max_examples=100, deadline=None)
@given(leaves=holdings.filter(lambda d: len(d) > 1))
def test_order_of_input_does_not_matter_and_any_change_moves_the_root(
    leaves: dict[bytes, merkle.Holding],
) -> None:
    tree = merkle.build(records(leaves), POINT)
    assert merkle.build(records(dict(reversed(leaves.items()))), POINT).root == tree.root
    first = next(iter(leaves))
    changed = {**leaves, first: more(leaves[first], btc=1)}
    assert merkle.build(records(changed), POINT).root != tree.root
    fewer = dict(list(leaves.items())[1:])
    assert merkle.build(records(fewer), POINT).root != tree.root
    assert merkle.build(records(leaves), merkle.Point(1234, 568)).root != tree.root


def test_edge_trees_and_the_leaf_bytes_as_documented() -> None:
    empty = merkle.build(b"", POINT)
    assert (empty.root, empty.total, empty.total_assets, empty.leaf_count) == (
        merkle.EMPTY_ROOT,
        0,
        0,
        0,
    )
    five = merkle.Holding(3, 2, 7, 4)
    address = b"\x01" * 20
    one = merkle.build(records({address: five}), POINT)
    assert one.proof(0) == []
    assert (one.total, one.total_assets) == (5, 4)
    # The leaf as the README defines it, spelled out byte by byte.
    expected = hashlib.sha256(
        b"\x00"
        + address
        + (1234).to_bytes(8, "big")
        + (567).to_bytes(8, "big")
        + b"".join(n.to_bytes(16, "big") for n in (3, 2, 7, 4))
    ).digest()
    assert one.root == expected == merkle.leaf_entry(address, POINT, five)[:32]
    with pytest.raises(ValueError, match="twice"):
        merkle.build(records({address: five}) * 2, POINT)
    with pytest.raises(ValueError, match="52 bytes"):
        merkle.build(b"\x00" * 43, POINT)
