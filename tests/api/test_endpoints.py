"""Each endpoint over the world of `support.world`, values checked against what the world did.

The API runs as a real process (reader role, row-level security); the world was written by the
db-writer's own mapping and store, so the rows are exactly those the pipeline makes.
"""

from __future__ import annotations

from typing import Any

import httpx
from reservesync.contracts import SystemContract
from reservesync.messages import ChainEvent

from tests.support.databases import FreshDatabase
from tests.support.world import ALICE, BOB, BOB_BURN_TX, CAROL, DAVE, ERIN, World, address

alice, bob, carol, dave, erin = (address(a) for a in (ALICE, BOB, CAROL, DAVE, ERIN))
NOBODY = "0x" + "00" * 19 + "01"


def get(client: httpx.Client, path: str, **params: Any) -> dict[str, Any]:
    response = client.get(path, params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_balances_follow_mints_burns_and_wrapping(
    client: httpx.Client, world_database: tuple[FreshDatabase, World]
) -> None:
    _, world = world_database
    body = get(client, "/balances", address=alice)
    assert body["address"] == alice
    assert body["synced_sats"] == 120_000 + 30_000 - 20_000
    assert body["wrbtc_movements"] == {
        "wrapped_sats": 50_000,
        "redeemed_sats": 10_000,
        "slashed_sats": 5_000,
    }
    # Held, from the Transfers: 130k minted net, 50k wrapped, 10k redeemed back; of the 35k
    # wrBTC left after the slash, 15k went to erin.
    assert body["is_user"] is True
    assert body["rbtc_sats"] == 130_000 - 50_000 + 10_000
    assert body["wrbtc_sats"] == 50_000 - 10_000 - 5_000 - 15_000
    to_erin = [
        m
        for _, m in world.messages
        if isinstance(m, ChainEvent) and m.event == "Transfer" and m.args["to"] == erin
    ]
    assert body["tokens_block_number"] == to_erin[0].block_number
    last_synced = [
        m
        for _, m in world.messages
        if isinstance(m, ChainEvent) and m.event == "Synced" and m.args["user"] == alice
    ][-1]
    assert body["last_update"] == {
        "block_number": last_synced.block_number,
        "block_timestamp": last_synced.block_timestamp.isoformat().replace("+00:00", "Z"),
        "tx_hash": last_synced.tx_hash,
    }
    freshness = body["freshness"]
    assert freshness["balance_updated_at"] == body["last_update"]["block_timestamp"]
    assert freshness["balance_age_s"] > 0
    assert freshness["writer_last_commit_at"] is not None
    assert freshness["writer_age_s"] >= 0

    # The emergency burn wiped bob; dave minted once; carol is known to the oracle only.
    assert get(client, "/balances", address=bob)["synced_sats"] == 0
    assert get(client, "/balances", address=dave)["synced_sats"] == 10_000
    carol_body = get(client, "/balances", address=carol)
    assert (carol_body["synced_sats"], carol_body["last_update"]) == (0, None)
    assert (carol_body["rbtc_sats"], carol_body["wrbtc_sats"]) == (0, 0)


def test_balances_of_holders_that_are_no_users(
    client: httpx.Client, world_database: tuple[FreshDatabase, World]
) -> None:
    """erin only received wrBTC; the vault holds the rBTC behind every wrBTC."""
    _, world = world_database
    body = get(client, "/balances", address=erin)
    assert (body["is_user"], body["synced_sats"], body["last_update"]) == (False, 0, None)
    assert (body["rbtc_sats"], body["wrbtc_sats"]) == (0, 15_000)
    assert body["wrbtc_movements"] == {"wrapped_sats": 0, "redeemed_sats": 0, "slashed_sats": 0}
    vault = get(
        client, "/balances", address=world.deployment.contracts[SystemContract.VAULT_WRBTC].address
    )
    assert (vault["is_user"], vault["rbtc_sats"], vault["wrbtc_sats"]) == (False, 35_000, 0)


def test_balances_accept_every_case_form_and_refuse_strangers(client: httpx.Client) -> None:
    checksummed = str(ALICE.address)
    assert checksummed not in (alice, checksummed.lower())
    upper = "0x" + alice[2:].upper()
    for form in (checksummed, upper):
        assert get(client, "/balances", address=form)["address"] == alice
    missing = client.get("/balances", params={"address": NOBODY})
    assert missing.status_code == 404
    assert missing.json()["error"] == "unknown_address"


def test_transactions_newest_first_in_pages(client: httpx.Client) -> None:
    everything = get(client, "/transactions", address=alice, limit=200)
    types = [t["type"] for t in everything["items"]]
    assert (
        types
        == ["YIELD_CLAIM", "SLASH", "REDEEM", "WRAP", "BURN", "MINT", "MINT"] + ["DEPOSIT"] * 5
    )
    assert everything["next_offset"] is None
    order = [(t["block_number"], t["log_index"]) for t in everything["items"]]
    assert order == sorted(order, reverse=True)
    first_mint = everything["items"][6]
    assert (first_mint["amount"], first_mint["unit"]) == ("120000", "sats")
    assert first_mint["balance_after_sats"] == 120_000
    assert first_mint["fee_wei"] == str(10**15)
    assert everything["items"][5]["amount"] == "30000"
    assert everything["items"][-1]["amount"] == str(10**16)
    assert everything["items"][-1]["unit"] == "wei"

    pages, offset = [], 0
    while offset is not None:
        page = get(client, "/transactions", address=alice, limit=5, offset=offset)
        assert (page["limit"], page["offset"]) == (5, offset)
        pages.append(page["items"])
        offset = page["next_offset"]
    assert [len(p) for p in pages] == [5, 5, 2]
    assert [t for p in pages for t in p] == everything["items"]
    empty = get(client, "/transactions", address=NOBODY)
    assert (empty["items"], empty["next_offset"]) == ([], None)


def test_emergency_burns_of_a_user_and_of_everyone(client: httpx.Client) -> None:
    burn = {
        "user_address": bob,
        "burned_sats": 90_000,
        "reason": "Insufficient fees",
        "tx_hash": BOB_BURN_TX,
        "seen_on_chain": True,
        "reported_by_oracle": True,
    }
    mine = get(client, "/emergency-burns", address=bob)
    assert mine["totals"] == {
        "burns": 1,
        "burned_sats": 90_000,
        "seen_on_chain": 1,
        "reported_by_oracle": 1,
        "users": 1,
    }
    assert len(mine["items"]) == 1
    assert mine["items"][0].items() >= burn.items()
    everyone = get(client, "/emergency-burns")
    assert everyone["address"] is None
    assert everyone["totals"] == mine["totals"]
    assert [b["user_address"] for b in everyone["items"]] == [bob]
    none = get(client, "/emergency-burns", address=alice)
    assert (none["totals"]["burns"], none["items"]) == (0, [])


def test_yield_status_of_a_participant_and_the_pool(
    client: httpx.Client, world_database: tuple[FreshDatabase, World]
) -> None:
    _, world = world_database
    body = get(client, "/yield-status", address=alice)
    participant = body["participant"]
    assert participant["role"] == "rbtc_holder"
    assert (participant["participant_type"], participant["amount"]) == (0, "40000")
    assert (participant["active"], participant["left_at"]) == (True, None)
    assert body["claims"] == {"claims": 1, "claimed_sats": 1234}
    pool = body["pool"]
    assert (
        pool["contract"]
        == world.deployment.contracts[SystemContract.YIELD_SCALES_POOL].address.lower()
    )
    assert pool["code_present"] is True
    assert (pool["participants_active"], pool["participants_ever"]) == (1, 1)
    assert (pool["rbtc_committed"], pool["usdt_committed"]) == ("40000", "0")
    assert pool["latest_yield"]["values"] == {
        "totalUSDTVirtual": "5000000",
        "totalRBTCSupply": "140000",
        "currentYieldRate": "350",
    }
    assert pool["latest_scales"]["values"] == {
        "usdtScale": "7",
        "rbtcScale": "3",
        "timestamp": "1757670000",
    }
    assert pool["age_s"] >= 0
    outsider = get(client, "/yield-status", address=dave)
    assert (outsider["participant"], outsider["claims"]["claims"]) == (None, 0)


def test_sync_status_in_sync_stale_and_not_registered(client: httpx.Client) -> None:
    expected = {
        alice: ("in_sync", 130_000, 130_000, 0, True),
        bob: ("stale", 0, 70_000, 70_000, True),
        carol: ("stale", 0, 40_000, 40_000, True),
        dave: ("not_registered", 10_000, None, None, True),
        NOBODY: ("not_registered", 0, None, None, False),
    }
    for user, (status, database, oracle, difference, known) in expected.items():
        body = get(client, "/sync-status", address=user)
        assert (
            body["status"],
            body["database_sats"],
            body["oracle_sats"],
            body["difference_sats"],
            body["known_to_database"],
        ) == (status, database, oracle, difference, known), user
    # alice's oracle sync (minute 10) came after her last Synced on chain (minute 8).
    assert get(client, "/sync-status", address=alice)["newer"] == "oracle"


def test_disputes_status_and_listing(client: httpx.Client) -> None:
    alice_disputes = get(client, "/disputes", address=alice)
    assert alice_disputes["status"] == "resolved"
    assert alice_disputes["totals"] == {"raised": 1, "resolved": 1, "open": 0}
    resolved, raised = alice_disputes["items"]
    assert (resolved["kind"], resolved["oracle_balance"], resolved["reported_balance"]) == (
        "RESOLVED",
        "130000",
        None,
    )
    assert resolved["operation_id"] == "op-alice-dispute-resolved"
    assert (raised["kind"], raised["reported_balance"], raised["oracle_balance"]) == (
        "RAISED",
        "131000",
        "130000",
    )
    assert "description" not in str(alice_disputes)  # encrypted at rest, never served
    assert get(client, "/disputes", address=bob)["status"] == "open"
    assert get(client, "/disputes", address=carol)["status"] == "none"
    everyone = get(client, "/disputes")
    assert everyone["status"] is None
    assert everyone["totals"] == {"raised": 2, "resolved": 1, "open": 1}
    assert [(d["user_address"], d["kind"]) for d in everyone["items"]] == [
        (alice, "RESOLVED"),
        (bob, "RAISED"),
        (alice, "RAISED"),
    ]
    second = get(client, "/disputes", limit=2, offset=2)
    assert [d["kind"] for d in second["items"]] == ["RAISED"]
    assert second["next_offset"] is None
