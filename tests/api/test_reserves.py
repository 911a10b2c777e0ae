"""Proof of reserves: the totals, and every user's proof checked against the root by a
verifier written here from the documented definition alone (not the API's own code)."""

from __future__ import annotations

import hashlib
from typing import Any

import httpx
from support.world import ALICE, BOB, CAROL, DAVE, address

BALANCES = {address(ALICE): 130_000, address(BOB): 0, address(CAROL): 0, address(DAVE): 10_000}
ORACLE_TOTAL = 130_000 + 70_000 + 40_000


def _amount(value: int) -> bytes:
    return value.to_bytes(16, "big")


def leaf(user: str, balance: int) -> bytes:
    """hash || sum, per the definition in the OpenAPI description."""
    digest = hashlib.sha256(b"\x00" + bytes.fromhex(user[2:]) + _amount(balance)).digest()
    return digest + _amount(balance)


def parent(left: bytes, right: bytes) -> bytes:
    total = int.from_bytes(left[32:], "big") + int.from_bytes(right[32:], "big")
    return hashlib.sha256(b"\x01" + left + right).digest() + _amount(total)


def root_of(balances: dict[str, int]) -> bytes:
    level = [leaf(user, balances[user]) for user in sorted(balances)]
    while len(level) > 1:
        paired = [parent(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        level = paired + ([level[-1]] if len(level) % 2 else [])
    return level[0]


def fold(user: str, balance: int, path: list[dict[str, Any]]) -> bytes:
    entry = leaf(user, balance)
    for step in path:
        sibling = bytes.fromhex(step["hash"][2:]) + _amount(step["sum_sats"])
        entry = parent(sibling, entry) if step["side"] == "left" else parent(entry, sibling)
    return entry


def test_totals_ratio_and_root(client: httpx.Client) -> None:
    body = client.get("/proof-of-reserves").json()
    assert body["total_rbtc_sats"] == sum(BALANCES.values()) == 140_000
    assert body["total_btc_sats"] == ORACLE_TOTAL
    assert body["backing_ratio"] == round(ORACLE_TOTAL / 140_000, 6)
    assert body["fully_backed"] is True
    assert (body["users"], body["oracle_users"]) == (4, 3)
    expected = root_of(BALANCES)
    assert body["merkle"] == {
        "scheme": "sha256-merkle-sum-v1",
        "root": "0x" + expected[:32].hex(),
        "total_sats": 140_000,
        "leaves": 4,
    }
    assert body["age_s"] >= 0


def test_every_users_proof_folds_into_the_root(client: httpx.Client) -> None:
    published = client.get("/proof-of-reserves").json()
    root = bytes.fromhex(published["merkle"]["root"][2:]) + _amount(published["total_rbtc_sats"])
    for user, balance in BALANCES.items():
        proof = client.get("/proof-of-reserves/proof", params={"address": user}).json()
        assert proof["balance_sats"] == balance
        assert proof["as_of"] == published["as_of"]
        assert proof["leaf_hash"] == "0x" + leaf(user, balance)[:32].hex()
        assert fold(user, balance, proof["path"]) == root
        # A balance claimed other than the counted one does not fold into the root.
        assert fold(user, balance + 1, proof["path"]) != root


def test_the_proof_of_a_stranger_is_404(client: httpx.Client) -> None:
    response = client.get("/proof-of-reserves/proof", params={"address": "0x" + "ee" * 20})
    assert response.status_code == 404
    assert response.json()["error"] == "unknown_address"
