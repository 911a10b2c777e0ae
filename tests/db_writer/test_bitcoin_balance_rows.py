"""`bitcoin.address_balance/v1` through the real db-writer: the newest record of an address
wins (a reorg's correction at a lower height included), a tombstone deletes, bad records go to
the DLQ, and the readers see what their roles allow (no ciphertext; rs_api one user's
addresses)."""

from __future__ import annotations

import functools
import secrets
from datetime import UTC, datetime

import asyncpg
import pytest
from db_writer.mapping.bitcoin import address_lookup
from embit import ec, script
from embit.networks import NETWORKS
from pydantic import SecretStr
from reservesync.crypto import FieldCipher
from reservesync.messages import BitcoinAddressBalance, Network
from reservesync.settings import EncryptionSettings
from reservesync.topics import BITCOIN_BALANCES, ORACLE_STATE

from tests.support.bitcoin_listening import dead_letters_of, new_user, user_state
from tests.support.messages import publish
from tests.support.stack import Endpoints
from tests.support.waiting import eventually


def _address() -> str:
    key = ec.PrivateKey(secrets.token_bytes(32)).get_public_key()
    return str(script.p2wpkh(key).address(NETWORKS["regtest"]))


def _balance(address: str, sats: int, height: int) -> BitcoinAddressBalance:
    return BitcoinAddressBalance(
        address=address,
        network=Network.REGTEST,
        confirmed_sats=sats,
        height=height,
        block_hash=secrets.token_hex(32),
        as_of=datetime(2026, 1, 1, tzinfo=UTC),
    )


async def test_newest_record_wins_a_tombstone_deletes_and_bad_records_are_refused(
    pipeline: Endpoints, db: asyncpg.Connection
) -> None:
    cipher = FieldCipher.from_settings(
        EncryptionSettings(field_encryption_key=SecretStr(pipeline.field_encryption_key))
    )
    kept, dropped = _address(), _address()
    bad_key = "not-a-bitcoin-address-" + secrets.token_hex(4)
    negative = (
        _balance(_address(), 1, 5).to_json().replace(b'"confirmed_sats":1', b'"confirmed_sats":-1')
    )
    await publish(
        pipeline.kafka_bootstrap_servers,
        BITCOIN_BALANCES.name,
        [
            (kept.encode(), _balance(kept, 50_000, 110).to_json()),
            # a reorg took block 110 back: the correction stands at the common ancestor
            (kept.encode(), _balance(kept, 20_000, 108).to_json()),
            (dropped.encode(), _balance(dropped, 7_000, 110).to_json()),
            (dropped.encode(), None),
            (bad_key.encode(), None),
            (b"negative", negative),
        ],
    )
    row = await eventually(
        lambda: db.fetchrow(
            "SELECT * FROM bitcoin_address_balances WHERE address_lookup = $1 AND height = 108",
            address_lookup(kept, cipher),
        ),
        what="the corrected balance",
    )
    assert row["confirmed_sats"] == 20_000
    context = f"bitcoin_address_balances.address:{address_lookup(kept, cipher).hex()}"
    assert cipher.decrypt(bytes(row["address_ciphertext"]), context=context) == kept
    assert (
        await db.fetchval(
            "SELECT count(*) FROM bitcoin_address_balances WHERE address_lookup = $1",
            address_lookup(dropped, cipher),
        )
        == 0
    )
    for says in ("tombstone key is not a Bitcoin address", "greater than or equal to 0"):
        letters = await eventually(
            functools.partial(dead_letters_of, pipeline.kafka_bootstrap_servers, "db-writer", says),
            what=f"the dead letter: {says}",
        )
        assert letters[0]["source_topic"] == BITCOIN_BALANCES.name


async def test_readers_see_balances_but_no_ciphertext_and_the_api_one_user(
    pipeline: Endpoints, db: asyncpg.Connection
) -> None:
    alice, hers, other = new_user(), _address(), _address()
    await publish(
        pipeline.kafka_bootstrap_servers,
        ORACLE_STATE.name,
        [(alice.encode(), user_state(alice, [hers]).to_json())],
    )
    await publish(
        pipeline.kafka_bootstrap_servers,
        BITCOIN_BALANCES.name,
        [(a.encode(), _balance(a, 1_000, 3).to_json()) for a in (hers, other)],
    )
    await eventually(
        lambda: db.fetchval(
            "SELECT count(*) = 1 FROM bitcoin_addresses b JOIN bitcoin_address_balances "
            "USING (address_lookup) WHERE b.user_address = $1",
            alice,
        ),
        what="her address joined to its balance",
    )
    await eventually(
        lambda: db.fetchval(
            "SELECT count(*) >= 2 FROM bitcoin_address_balances WHERE height = 3 "
            "AND confirmed_sats = 1000"
        ),
        what="both balances",
    )
    health = await asyncpg.connect(pipeline.database_urls["rs_health"])
    api = await asyncpg.connect(pipeline.database_urls["rs_api"])
    try:
        assert await health.fetchval("SELECT count(*) FROM bitcoin_address_balances") >= 2
        for reader in (health, api):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await reader.fetch("SELECT address_ciphertext FROM bitcoin_address_balances")
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await reader.execute("DELETE FROM bitcoin_address_balances")
        async with api.transaction():
            await api.execute("SELECT set_config('reservesync.user', $1, true)", alice)
            seen = await api.fetch("SELECT confirmed_sats, height FROM bitcoin_address_balances")
        assert [(r["confirmed_sats"], r["height"]) for r in seen] == [(1_000, 3)]
    finally:
        await health.close()
        await api.close()
