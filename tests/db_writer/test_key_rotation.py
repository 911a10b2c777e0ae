"""Key rotation's last step on a real database: `python -m db_writer.reencrypt` moves every
encrypted field to the new key, in batches with progress, and changes no value; afterwards
the old key is not needed, and a second run finds nothing to do."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import subprocess
import sys

import asyncpg
from db_writer.checksum import database_checksum
from reservesync.crypto import FieldCipher
from reservesync.encrypted_fields import ENCRYPTED
from reservesync.messages import (
    BitcoinAddressBalance,
    Network,
    OperationStatus,
    OracleAction,
    OracleOperation,
)
from reservesync.topics import BITCOIN_BALANCES, ORACLE_OPERATIONS

from tests.support.databases import FreshDatabase
from tests.support.stack import Endpoints
from tests.support.world import ALICE, ALICE_BTC, address, build, write

OLD_KEY, NEW_KEY, LOOKUP_KEY = (secrets.token_bytes(32) for _ in range(3))
VERIFICATIONS = 120


def _reencrypt(writer_url: str, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "db_writer.reencrypt", *args],
        env={
            "PATH": os.environ["PATH"],
            "DATABASE_URL": writer_url,
            "FIELD_ENCRYPTION_KEY": NEW_KEY.hex(),
            "FIELD_ENCRYPTION_KEY_ID": "k2",
            "FIELD_ENCRYPTION_PREVIOUS_KEYS": json.dumps({"k1": OLD_KEY.hex()}),
            "FIELD_LOOKUP_KEY": LOOKUP_KEY.hex(),
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


async def _key_ids(url: str) -> dict[str, dict[str, int]]:
    connection = await asyncpg.connect(url)
    try:
        return {
            column.table: {
                row["key_id"]: row["n"]
                for row in await connection.fetch(
                    f"SELECT key_id, count(*) AS n FROM {column.table} "
                    f"WHERE {column.column} IS NOT NULL GROUP BY 1"
                )
            }
            for column in ENCRYPTED
        }
    finally:
        await connection.close()


def test_reencryption_moves_every_field_to_the_new_key_and_changes_no_value(
    endpoints: Endpoints, fresh_database: FreshDatabase
) -> None:
    world = build(endpoints.deployment)
    alice = address(ALICE)
    for i in range(VERIFICATIONS):
        operation = OracleOperation(
            operation_id=f"op-verify-{i}",
            action=OracleAction.BTC_ADDRESS_VERIFIED,
            user_address=alice,
            bitcoin_address=ALICE_BTC[i % 2],
            consensus_reached=True,
            status=OperationStatus.SUCCESS,
            occurred_at=world.at(600 + i),
            oracle_id="oracle-1",
        )
        world.messages.append((ORACLE_OPERATIONS.name, operation))
    balance = BitcoinAddressBalance(
        address=ALICE_BTC[0],
        network=Network.MAINNET,
        confirmed_sats=5_000,
        height=900_000,
        block_hash="ab" * 32,
        as_of=world.at(700),
    )
    world.messages.append((BITCOIN_BALANCES.name, balance))
    old = FieldCipher("k1", {"k1": OLD_KEY}, LOOKUP_KEY)
    asyncio.run(write(world, fresh_database.writer_url, old))
    before = asyncio.run(database_checksum(fresh_database.migrator_url, old))
    under_old = asyncio.run(_key_ids(fresh_database.migrator_url))
    assert under_old == {
        "balance_disputes": {"k1": 1},
        "oracle_operations_log": {"k1": VERIFICATIONS},
        "bitcoin_addresses": {"k1": 3},
        "bitcoin_address_balances": {"k1": 1},
    }

    counted = _reencrypt(fresh_database.writer_url, "--dry-run")
    assert f"oracle_operations_log.bitcoin_address_ciphertext: {VERIFICATIONS} rows" in counted
    assert asyncio.run(_key_ids(fresh_database.migrator_url)) == under_old

    moved = _reencrypt(fresh_database.writer_url, "--batch", "50")
    assert f"oracle_operations_log: {VERIFICATIONS}/{VERIFICATIONS} rows (100.0%)" in moved
    assert "re-encrypted 125 rows under key 'k2'" in moved
    assert asyncio.run(_key_ids(fresh_database.migrator_url)) == {
        table: {"k2": ids["k1"]} for table, ids in under_old.items()
    }
    new_only = FieldCipher("k2", {"k2": NEW_KEY}, LOOKUP_KEY)
    assert asyncio.run(database_checksum(fresh_database.migrator_url, new_only)) == before

    assert "re-encrypted 0 rows" in _reencrypt(fresh_database.writer_url)
