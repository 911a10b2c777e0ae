"""Bitcoin addresses: masked for anyone, in full only to whoever signs the API's challenge
with the address's key; and the database path behind it answers for one user only."""

from __future__ import annotations

import secrets
from typing import Any

import asyncpg
import httpx
import pytest
from devstack import services
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount

from tests.support.api_process import API, start_api
from tests.support.databases import FreshDatabase
from tests.support.stack import Endpoints
from tests.support.world import ALICE, ALICE_BTC, BOB, CAROL, CAROL_BTC, World, address

alice, carol = address(ALICE), address(CAROL)


def challenge_for(client: httpx.Client, user: str) -> str:
    response = client.post("/owner-challenge", params={"address": user})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["address"] == user
    assert user in body["challenge"]
    return str(body["challenge"])


def altered(challenge: str) -> str:
    """The same challenge with a later expiry: well formed, but not what the API issued."""
    year = challenge.split("valid until ")[1][:4]
    return challenge.replace(f"valid until {year}", f"valid until {int(year) + 1}")


def signed(account: LocalAccount, challenge: str) -> dict[str, str]:
    signature = account.sign_message(encode_defunct(text=challenge)).signature
    return {"X-Owner-Challenge": challenge, "X-Owner-Signature": "0x" + bytes(signature).hex()}


def test_anyone_sees_the_masked_form_only(client: httpx.Client) -> None:
    body = client.get("/bitcoin-addresses", params={"address": alice}).json()
    assert body["owner_verified"] is False
    assert (body["verified"], body["monitored"]) == (2, 1)
    assert [(a["masked"], a["address"], a["network"], a["monitoring"]) for a in body["items"]] == [
        ("bc1q…5mdq", None, "mainnet", True),
        ("1…NVN2", None, "mainnet", False),
    ]
    for full in ALICE_BTC:
        assert full not in str(body)
    carol_body = client.get("/bitcoin-addresses", params={"address": carol}).json()
    assert [(a["masked"], a["verified_at"]) for a in carol_body["items"]] == [("tb1q…jzsx", None)]
    assert CAROL_BTC not in str(carol_body)


def test_the_owner_sees_the_full_addresses(client: httpx.Client) -> None:
    headers = signed(ALICE, challenge_for(client, alice))
    response = client.get("/bitcoin-addresses", params={"address": alice}, headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["owner_verified"] is True
    assert [a["address"] for a in body["items"]] == list(ALICE_BTC)
    # The challenge serves for more than one read until it expires.
    again = client.get("/bitcoin-addresses", params={"address": alice}, headers=headers)
    assert again.json()["owner_verified"] is True


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("someone else signs", "not made by this address's key"),
        ("bob's challenge signed by bob", "issued for another address"),
        ("altered challenge", "not issued by this API or was altered"),
        ("made-up challenge", "not one this API issues"),
        ("garbage signature", "malformed"),
    ],
)
def test_a_wrong_owner_proof_is_401_and_shows_nothing(
    client: httpx.Client, case: str, reason: str
) -> None:
    challenge = challenge_for(client, alice)
    headers = {
        "someone else signs": lambda: signed(Account.create(), challenge),
        "bob's challenge signed by bob": lambda: signed(BOB, challenge_for(client, address(BOB))),
        "altered challenge": lambda: signed(ALICE, altered(challenge)),
        "made-up challenge": lambda: signed(ALICE, f"ReserveSync owner proof for {alice}"),
        "garbage signature": lambda: {
            "X-Owner-Challenge": challenge,
            "X-Owner-Signature": "0x" + "ff" * 65,
        },
    }[case]()
    response = client.get("/bitcoin-addresses", params={"address": alice}, headers=headers)
    assert response.status_code == 401
    body = response.json()
    assert body["error"] == "owner_proof_invalid"
    assert reason in body["message"]
    for full in ALICE_BTC:
        assert full not in response.text


def test_half_an_owner_proof_is_400(client: httpx.Client) -> None:
    response = client.get(
        "/bitcoin-addresses",
        params={"address": alice},
        headers={"X-Owner-Challenge": challenge_for(client, alice)},
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["name"] == "X-Owner-Signature"


async def test_the_database_hands_ciphertexts_to_the_user_of_the_transaction_only(
    world_database: tuple[FreshDatabase, World],
) -> None:
    api = await asyncpg.connect(world_database[0].api_url)
    try:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await api.fetch("SELECT address_ciphertext FROM bitcoin_addresses")
        for session_user, asked, expected in (
            (alice, alice, 2),
            (alice, carol, 0),  # another user than the transaction's
            ("*", alice, 0),  # the aggregate setting never opens ciphertexts
            ("", alice, 0),
        ):
            async with api.transaction():
                await api.execute("SELECT set_config('reservesync.user', $1, true)", session_user)
                rows = await api.fetch("SELECT * FROM api_own_bitcoin_addresses($1)", asked)
            assert len(rows) == expected, (session_user, asked)
    finally:
        await api.close()


def test_a_key_rotated_out_is_a_503_for_the_operator_not_a_500(
    endpoints: Endpoints, world_database: tuple[FreshDatabase, World]
) -> None:
    url = start_api(
        endpoints,
        world_database[0].api_url,
        "apiwrongkey",
        FIELD_ENCRYPTION_KEY=secrets.token_hex(32),
        FIELD_ENCRYPTION_KEY_ID="k9",
    )
    try:
        response = httpx.get(f"{url}/api/realtime/bitcoin-addresses", params={"address": alice})
        bob_has_none = httpx.get(
            f"{url}/api/realtime/bitcoin-addresses", params={"address": address(BOB)}
        )
    finally:
        services.stop([API], prefix="apiwrongkey")
    assert response.status_code == 503
    assert response.json()["error"] == "decryption_unavailable"
    for full in ALICE_BTC:
        assert full not in response.text
    assert bob_has_none.status_code == 200  # bob watches no address: nothing to decrypt
