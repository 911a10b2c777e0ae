"""Proof of reserves: the totals, and every user's proof checked against the root by a
verifier written here from the documented definition alone (not the API's own code)."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from support.databases import FreshDatabase, fresh_database
from support.stack import Endpoints
from support.world import ALICE, BOB, CAROL, DAVE, World, address

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


async def _attestations(url: str) -> list[tuple[object, ...]]:
    connection = await asyncpg.connect(url)
    try:
        rows = await connection.fetch(
            "SELECT id, merkle_root, total_rbtc_sats, total_btc_sats, users_count "
            "FROM proof_of_reserves ORDER BY id"
        )
    finally:
        await connection.close()
    return [tuple(row.values()) for row in rows]


def test_the_published_state_is_recorded_once(
    client: httpx.Client, world_database: tuple[FreshDatabase, World]
) -> None:
    """Two API processes (with and without a rate limit) serve this database and each built
    its tree at least once: one row, the one the response names."""
    body = client.get("/proof-of-reserves").json()
    recorded = asyncio.run(_attestations(world_database[0].migrator_url))
    root = body["merkle"]["root"]
    assert recorded == [(body["attestation_id"], root, 140_000, ORACLE_TOTAL, 4)]


ROOT_A, ROOT_B = "0x" + "aa" * 32, "0x" + "bb" * 32
T = datetime(2026, 1, 1, tzinfo=UTC)


async def _record_as_api(url: str, *states: tuple[int, str, datetime]) -> list[int | None]:
    connection = await asyncpg.connect(url)
    try:
        return [
            await connection.fetchval(
                "SELECT api_record_reserves($1, $2, $3, $4, $5)", rbtc, 100, 2, root, as_of
            )
            for rbtc, root, as_of in states
        ]
    finally:
        await connection.close()


def test_recording_keeps_each_distinct_state_once_and_in_order(endpoints: Endpoints) -> None:
    with fresh_database(endpoints) as fresh:
        first, same, stale, newer = asyncio.run(
            _record_as_api(
                fresh.api_url,
                (50, ROOT_A, T),
                (50, ROOT_A, T + timedelta(seconds=30)),  # another replica, same state
                (60, ROOT_B, T - timedelta(seconds=5)),  # read before the newest record
                (60, ROOT_B, T + timedelta(seconds=60)),
            )
        )
        assert first is not None
        assert same == first
        assert stale is None
        assert newer is not None
        assert newer > first
        rows = asyncio.run(_attestations(fresh.migrator_url))
        assert [(r[1], r[2]) for r in rows] == [(ROOT_A, 50), (ROOT_B, 60)]


def test_the_api_role_cannot_write_the_table_itself(endpoints: Endpoints) -> None:
    async def insert() -> None:
        connection = await asyncpg.connect(fresh.api_url)
        try:
            await connection.execute(
                "INSERT INTO proof_of_reserves (total_rbtc_sats, total_btc_sats, users_count, "
                "merkle_root, as_of) VALUES (1, 1, 1, $1, now())",
                ROOT_A,
            )
        finally:
            await connection.close()

    with fresh_database(endpoints) as fresh, pytest.raises(asyncpg.InsufficientPrivilegeError):
        asyncio.run(insert())
