"""The confirmed balance of verified addresses, from a real btcd in regtest, through Kafka into
Postgres: each of the five address kinds, payments that wait for their confirmations, a spend,
and an address that stops being watched."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import asyncpg
from devstack.regtest import OwnKey, Regtest, five_kinds
from pydantic import SecretStr
from reservesync.crypto import FieldCipher
from reservesync.encrypted_fields import BALANCE_BITCOIN_ADDRESSES
from reservesync.settings import EncryptionSettings

from tests.support.bitcoin_listening import (
    balances,
    latest,
    listener_env,
    new_user,
    processed_through,
    publish_state,
    running_listener,
    until_balance,
    user_state,
)
from tests.support.stack import Endpoints
from tests.support.waiting import eventually


async def test_balances_follow_payments_and_spends_with_confirmations(
    pipeline: Endpoints, regtest: Regtest, probe_port: int
) -> None:
    endpoints = pipeline
    bootstrap = endpoints.kafka_bootstrap_servers
    kinds = five_kinds()
    spender = OwnKey()
    kinds["p2wpkh"] = spender.address  # the one the test spends from again
    addresses = list(kinds.values())
    user = new_user()
    start = regtest.height() + 1
    await publish_state(bootstrap, user, user_state(user, addresses).to_json())

    env = listener_env(endpoints, start, probe_port, BTC_CONFIRMATIONS="2")
    with running_listener("test-bitcoin-balances", env):
        # Watched from the start: each address published once, at 0, when a block is confirmed.
        regtest.mine(2)
        for address in addresses:
            await until_balance(bootstrap, address, 0)

        paid = {address: 10_000 * (i + 1) for i, address in enumerate(addresses)}
        txid, coins = regtest.send(paid)
        regtest.mine(1)
        paid_at = regtest.block_of(txid)
        # One confirmation is not two: nothing of the payment may be published yet.
        await eventually(
            lambda: processed_through(probe_port, paid_at - 1), what="the block before"
        )
        now = [await latest(bootstrap, a) for a in addresses]
        assert [r["confirmed_sats"] if r else None for r in now] == [0] * len(addresses)

        regtest.mine(1)
        for address, sats in paid.items():
            record = await until_balance(bootstrap, address, sats)
            assert record["height"] == paid_at
            assert record["block_hash"] == regtest.rpc("getblockhash", paid_at)
            assert record["network"] == "regtest"

        # Spent from: 3,000 sats leave the P2WPKH address, the rest (less the fee) comes back.
        coin = coins[spender.address]
        regtest.spend(coin, spender, {kinds["p2tr"]: 3_000})
        regtest.mine(2)
        left = coin.sats - 3_000 - 10_000
        await until_balance(bootstrap, spender.address, left)
        await until_balance(bootstrap, kinds["p2tr"], paid[kinds["p2tr"]] + 3_000)

        # Only changes are published: one record per address per change, none twice.
        for address in addresses:
            history = [r["confirmed_sats"] for r in await balances(bootstrap, [address]) if r]
            assert all(a != b for a, b in itertools.pairwise(history)), history

        await _stored_in_postgres(endpoints, user, kinds["p2tr"], paid[kinds["p2tr"]] + 3_000)

        # The oracle drops the address: a tombstone, and the writer deletes the row.
        await publish_state(bootstrap, user, user_state(user, addresses[:-1]).to_json())
        await eventually(
            lambda: _dropped(bootstrap, kinds["p2tr"]), what="the tombstone of the P2TR address"
        )
        await eventually(
            lambda: _row_gone(endpoints, kinds["p2tr"]), what="the row of the dropped address"
        )


async def _dropped(bootstrap: str, address: str) -> bool:
    found = await balances(bootstrap, [address])
    return bool(found) and found[-1] is None


def _cipher(endpoints: Endpoints) -> FieldCipher:
    return FieldCipher.from_settings(
        EncryptionSettings(field_encryption_key=SecretStr(endpoints.field_encryption_key))
    )


async def _stored_in_postgres(endpoints: Endpoints, user: str, address: str, sats: int) -> None:
    """The writer's row: the balance joined to the user's verified address by the keyed hash,
    the address itself only as ciphertext that opens to it."""
    cipher = _cipher(endpoints)

    async def row() -> asyncpg.Record | None:
        connection = await asyncpg.connect(endpoints.migrator_url)
        try:
            return await connection.fetchrow(
                "SELECT b.*, encode(b.address_lookup, 'hex') AS lookup_hex FROM "
                "bitcoin_address_balances b JOIN bitcoin_addresses a USING (address_lookup) "
                "WHERE a.user_address = $1 AND b.confirmed_sats = $2",
                user,
                sats,
            )
        finally:
            await connection.close()

    found = await eventually(row, what=f"the row of {address} at {sats} sats")
    assert found is not None
    opened = cipher.decrypt(
        bytes(found["address_ciphertext"]),
        context=BALANCE_BITCOIN_ADDRESSES.context(found["lookup_hex"]),
    )
    assert opened == address
    assert found["network"] == "regtest"
    # The block's time: consensus lets it run up to two hours ahead of the network's clock
    # (a regtest node mining quickly steps each block a second past the last).
    assert found["as_of"] <= datetime.now(UTC) + timedelta(hours=2)


async def _row_gone(endpoints: Endpoints, address: str) -> bool:
    from db_writer.mapping.bitcoin import address_lookup

    lookup = address_lookup(address, _cipher(endpoints))
    connection = await asyncpg.connect(endpoints.migrator_url)
    try:
        count = await connection.fetchval(
            "SELECT count(*) FROM bitcoin_address_balances WHERE address_lookup = $1", lookup
        )
    finally:
        await connection.close()
    return bool(count == 0)
