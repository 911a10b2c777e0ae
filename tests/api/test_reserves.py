"""Proof of reserves: the totals, and every user's proof checked against the root by a
verifier written here from the documented definition alone (not the API's own code). This
world has no Bitcoin balances (the BTC side is 0 and H is 0; tests/api/test_reserves_bitcoin.py
has both chains for real)."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from reservesync.contracts import SystemContract
from reservesync.messages import ChainEvent

from tests.support.databases import FreshDatabase, fresh_database
from tests.support.stack import Endpoints
from tests.support.world import ALICE, BOB, CAROL, DAVE, ERIN, World, address

Holding = tuple[int, int, int, int]
"""rBTC held, wrBTC held, synced sats, BTC held."""
LEAVES: dict[str, Holding] = {
    address(ALICE): (90_000, 20_000, 130_000, 0),
    address(BOB): (0, 0, 0, 0),
    address(CAROL): (0, 0, 0, 0),
    address(DAVE): (10_000, 0, 10_000, 0),
    address(ERIN): (0, 15_000, 0, 0),
}
SUPPLY = 90_000 + 35_000 + 10_000
"""rBTC totalSupply: alice's, the vault's (behind 35k wrBTC) and dave's."""
ORACLE_TOTAL = 130_000 + 70_000 + 40_000


def leaves(world: World) -> dict[str, Holding]:
    """Every user and holder; the vault's own rBTC counts 0 (it backs the wrBTC)."""
    vault = world.deployment.contracts[SystemContract.VAULT_WRBTC].address
    return {**LEAVES, vault: (0, 0, 0, 0)}


def evm_block(world: World) -> int:
    """B: the newest block of a token movement or a synced balance."""
    return max(
        m.block_number
        for _, m in world.messages
        if isinstance(m, ChainEvent) and m.event in {"Transfer", "Synced"}
    )


def _amount(value: int) -> bytes:
    return value.to_bytes(16, "big")


def leaf(user: str, point: tuple[int, int], holding: Holding) -> bytes:
    """hash || liabilities || assets, per the definition in the OpenAPI description."""
    rbtc, wrbtc, _synced, btc = holding
    digest = hashlib.sha256(
        b"\x00"
        + bytes.fromhex(user[2:])
        + b"".join(n.to_bytes(8, "big") for n in point)
        + b"".join(_amount(n) for n in holding)
    ).digest()
    return digest + _amount(rbtc + wrbtc) + _amount(btc)


def parent(left: bytes, right: bytes) -> bytes:
    owed = int.from_bytes(left[32:48], "big") + int.from_bytes(right[32:48], "big")
    held = int.from_bytes(left[48:], "big") + int.from_bytes(right[48:], "big")
    return hashlib.sha256(b"\x01" + left + right).digest() + _amount(owed) + _amount(held)


def root_of(point: tuple[int, int], holdings: dict[str, Holding]) -> bytes:
    level = [leaf(user, point, holdings[user]) for user in sorted(holdings)]
    while len(level) > 1:
        paired = [parent(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        level = paired + ([level[-1]] if len(level) % 2 else [])
    return level[0]


def fold(user: str, point: tuple[int, int], holding: Holding, path: list[dict[str, Any]]) -> bytes:
    entry = leaf(user, point, holding)
    for step in path:
        sibling = (
            bytes.fromhex(step["hash"][2:]) + _amount(step["sum_sats"]) + _amount(step["btc_sats"])
        )
        entry = parent(sibling, entry) if step["side"] == "left" else parent(entry, sibling)
    return entry


def test_totals_ratio_and_root(
    client: httpx.Client, world_database: tuple[FreshDatabase, World]
) -> None:
    body = client.get("/proof-of-reserves").json()
    expected_leaves = leaves(world_database[1])
    assert body["total_rbtc_sats"] == SUPPLY == 135_000
    assert body["wrbtc_outstanding_sats"] == 35_000
    assert body["synced_sats"] == 130_000 + 10_000
    # The world synced more than its supply (the slash burned without a sync): nothing unbacked.
    assert body["unbacked_supply_sats"] == 0
    # The oracle's word stays beside Bitcoin's, which shows nothing here: all supply unbacked.
    assert body["total_btc_sats"] == ORACLE_TOTAL
    # The world's oracle logged no mint its Synced does not account for; Bitcoin shows nothing,
    # so even no pending mint leaves the Secure-Mint rule broken.
    assert (body["pending_mint_sats"], body["pending_mints"]) == (0, 0)
    assert body["secure_mint_ok"] is False
    assert (body["btc_held_sats"], body["unbacked_by_btc_sats"]) == (0, SUPPLY)
    assert [(d["name"], d["sats"]) for d in body["deficits"]] == [("unbacked_by_btc_sats", SUPPLY)]
    assert body["backing_ratio"] == 0
    assert (body["status"], body["fully_backed"]) == ("critical", False)
    assert (body["users"], body["oracle_users"]) == (len(expected_leaves), 3)
    point = (evm_block(world_database[1]), 0)
    assert (body["evm_block"], body["btc_height"]) == point
    expected = root_of(point, expected_leaves)
    assert body["merkle"] == {
        "scheme": "sha256-merkle-sum-v3",
        "root": "0x" + expected[:32].hex(),
        "total_sats": SUPPLY,
        "total_btc_sats": 0,
        "evm_block": point[0],
        "btc_height": 0,
        "leaves": len(expected_leaves),
    }
    assert body["age_s"] >= 0


def test_every_holders_proof_folds_into_the_root(
    client: httpx.Client, world_database: tuple[FreshDatabase, World]
) -> None:
    published = client.get("/proof-of-reserves").json()
    merkle = published["merkle"]
    root = (
        bytes.fromhex(merkle["root"][2:])
        + _amount(merkle["total_sats"])
        + _amount(merkle["total_btc_sats"])
    )
    point = (merkle["evm_block"], merkle["btc_height"])
    for user, holding in leaves(world_database[1]).items():
        proof = client.get("/proof-of-reserves/proof", params={"address": user}).json()
        rbtc, wrbtc, synced, btc = holding
        assert proof["balance_sats"] == rbtc + wrbtc
        assert (
            proof["rbtc_sats"],
            proof["wrbtc_sats"],
            proof["synced_sats"],
            proof["btc_sats"],
        ) == holding
        assert (proof["evm_block"], proof["btc_height"]) == point
        assert proof["as_of"] == published["as_of"]
        assert proof["leaf_hash"] == "0x" + leaf(user, point, holding)[:32].hex()
        assert fold(user, point, holding, proof["path"]) == root
        # Amounts or instants claimed other than the counted ones do not fold into the root.
        assert fold(user, point, (rbtc + 1, wrbtc, synced, btc), proof["path"]) != root
        assert fold(user, point, (rbtc, wrbtc, synced + 1, btc), proof["path"]) != root
        assert fold(user, point, (rbtc, wrbtc, synced, btc + 1), proof["path"]) != root
        assert fold(user, (point[0] - 1, point[1]), holding, proof["path"]) != root


def test_the_proof_of_a_stranger_is_404(client: httpx.Client) -> None:
    response = client.get("/proof-of-reserves/proof", params={"address": "0x" + "ee" * 20})
    assert response.status_code == 404
    assert response.json()["error"] == "unknown_address"


async def _attestations(url: str) -> list[tuple[object, ...]]:
    connection = await asyncpg.connect(url)
    try:
        rows = await connection.fetch(
            "SELECT id, merkle_root, total_rbtc_sats, total_btc_sats, users_count, "
            "wrbtc_outstanding_sats, synced_sats, unbacked_supply_sats, evm_block, btc_height, "
            "btc_held_sats, unbacked_by_btc_sats, merkle_scheme "
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
    assert recorded == [
        (
            body["attestation_id"],
            root,
            SUPPLY,
            ORACLE_TOTAL,
            body["users"],
            35_000,
            140_000,
            0,
            evm_block(world_database[1]),
            0,
            0,
            SUPPLY,
            "sha256-merkle-sum-v3",
        )
    ]


ROOT_A, ROOT_B = "0x" + "aa" * 32, "0x" + "bb" * 32
T = datetime(2026, 1, 1, tzinfo=UTC)


async def _record_as_api(url: str, *states: tuple[int, str, datetime]) -> list[int | None]:
    connection = await asyncpg.connect(url)
    try:
        return [
            await connection.fetchval(
                "SELECT api_record_reserves("
                "$1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
                rbtc,
                100,
                2,
                root,
                as_of,
                0,
                rbtc,
                0,
                7,
                3,
                rbtc,
                0,
                "sha256-merkle-sum-v3",
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
