"""Reconciliation against the legacy oracle of the seed: the database lacks its users, burns,
Bitcoin addresses and operations; one run publishes what is missing and the real db-writer
writes it, once; a second run finds nothing and publishes nothing."""

from __future__ import annotations

import secrets
from typing import Any

import asyncpg
from aiokafka import TopicPartition
from db_writer.checksum import database_checksum
from devstack import services
from oracle_logger.reconcile import ReconcileSettings, reconcile
from pydantic import SecretStr
from reservesync import kafka
from reservesync.crypto import FieldCipher
from reservesync.settings import EncryptionSettings, KafkaSettings
from reservesync.topics import ORACLE_OPERATIONS, ORACLE_STATE
from scenarios.oracle.running import RunningOracle
from scenarios.oracle.seed import SEED, SeedWorld

from tests.support.databases import FreshDatabase
from tests.support.stack import Endpoints
from tests.support.waiting import eventually


async def _what_the_database_has(db: asyncpg.Connection, users: list[str]) -> dict[str, Any]:
    row = await db.fetchrow(
        """SELECT
             (SELECT count(*) FROM users WHERE address = ANY($1) AND known_to_oracle) AS users,
             (SELECT count(*) FROM emergency_burns
               WHERE user_address = ANY($1) AND reported_by_oracle) AS burns,
             (SELECT coalesce(sum(burned_sats), 0) FROM emergency_burns
               WHERE user_address = ANY($1)) AS burned_sats,
             (SELECT count(*) FROM oracle_operations_log
               WHERE user_address = ANY($1)) AS operations,
             (SELECT count(DISTINCT operation_id) FROM oracle_operations_log
               WHERE user_address = ANY($1)) AS distinct_operations,
             (SELECT count(*) FROM bitcoin_addresses WHERE user_address = ANY($1)) AS addresses,
             (SELECT count(*) FROM bitcoin_addresses
               WHERE user_address = ANY($1) AND monitoring) AS monitored""",
        users,
    )
    return dict(row)


async def _ends(bootstrap: str) -> dict[TopicPartition, int]:
    consumer = kafka.consumer(KafkaSettings(kafka_bootstrap_servers=bootstrap), group_id=None)
    await consumer.start()
    try:
        partitions = [
            TopicPartition(t.name, p)
            for t in (ORACLE_OPERATIONS, ORACLE_STATE)
            for p in range(t.partitions)
        ]
        ends: dict[TopicPartition, int] = await consumer.end_offsets(partitions)
        return ends
    finally:
        await consumer.stop()


async def test_reconciliation_closes_the_legacy_gaps_once(
    endpoints: Endpoints,
    seeded: tuple[RunningOracle, SeedWorld],
    fresh_database: FreshDatabase,
) -> None:
    oracle, world = seeded
    journal = len(oracle.book.journal)
    bootstrap = endpoints.kafka_bootstrap_servers
    settings = ReconcileSettings(
        kafka_bootstrap_servers=bootstrap,
        database_url=SecretStr(fresh_database.health_url),
        oracle_users_url=oracle.users_url,
        oracle_operations_url=oracle.operations_url,
        oracle_state_key=SecretStr(oracle.key.hex()),
    )
    prefix = _start_oracle_writer(endpoints, fresh_database, "rc")
    db = await asyncpg.connect(fresh_database.migrator_url)
    lines: list[str] = []
    try:
        nothing = await _what_the_database_has(db, world.users)
        assert nothing["users"] == nothing["burns"] == nothing["operations"] == 0

        found = await reconcile(settings, dry_run=True, say=lines.append)
        assert found.users_missing == sorted(world.users)
        assert len(found.operations_missing) == journal
        assert len(found.burns_missing) == 2  # the users whose burns are missing

        remaining = await reconcile(settings, wait_s=90, say=lines.append)
        assert remaining.closed, lines
        has = await _what_the_database_has(db, world.users)
        assert has == {
            "users": SEED.users,
            "burns": SEED.emergency_burns,
            "burned_sats": SEED.emergency_burned_sats,
            "operations": journal,
            "distinct_operations": journal,
            "addresses": SEED.bitcoin_addresses_verified,
            "monitored": SEED.bitcoin_addresses_monitored,
        }

        cipher = FieldCipher.from_settings(
            EncryptionSettings(field_encryption_key=SecretStr(endpoints.field_encryption_key))
        )
        checksum = await database_checksum(fresh_database.migrator_url, cipher)
        ends = await _ends(bootstrap)
        again = await reconcile(settings, say=lines.append)
        assert again.closed
        assert await _ends(bootstrap) == ends, "the second run published something"
        assert await database_checksum(fresh_database.migrator_url, cipher) == checksum
        assert lines[-1].startswith("missing from the database: ")
    finally:
        services.stop(["db-writer"], prefix=prefix)
        await db.close()


async def test_the_oracle_logger_reconciles_on_its_own(
    endpoints: Endpoints,
    seeded: tuple[RunningOracle, SeedWorld],
    fresh_database: FreshDatabase,
) -> None:
    """ORACLE_RECONCILE_INTERVAL_S: nobody runs the command, the gaps close anyway."""
    oracle, world = seeded
    journal = len(oracle.book.journal)
    prefix = _start_oracle_writer(endpoints, fresh_database, "rl")
    db = await asyncpg.connect(fresh_database.migrator_url)
    try:
        services.start(
            ["oracle-logger"],
            {
                "ORACLE_USERS_URL": oracle.users_url,
                "ORACLE_OPERATIONS_URL": oracle.operations_url,
                "ORACLE_STATE_KEY": oracle.key.hex(),
                "ORACLE_PULL_INTERVAL_S": "3600",
                "ORACLE_RECONCILE_INTERVAL_S": "1",
                "RECONCILE_DATABASE_URL": fresh_database.health_url,
            },
            stack=endpoints.env(),
            prefix=prefix,
        )

        async def closed() -> bool:
            has = await _what_the_database_has(db, world.users)
            return bool(has["operations"] == journal and has["burns"] == SEED.emergency_burns)

        await eventually(closed, within=180, what="the service's reconciliation to close gaps")
        has = await _what_the_database_has(db, world.users)
        assert has["distinct_operations"] == journal
        assert has["users"] == SEED.users
    finally:
        services.stop(["oracle-logger", "db-writer"], prefix=prefix)
        await db.close()


def _start_oracle_writer(endpoints: Endpoints, database: FreshDatabase, tag: str) -> str:
    """A db-writer of the oracle's topics into `database`, in a group of its own; returns the
    process prefix to stop it by."""
    prefix = f"{tag}{secrets.token_hex(2)}"
    services.start(
        ["db-writer"],
        {
            "DATABASE_URL": database.writer_url,
            "WRITER_GROUP_ID": f"rbtc-db-writer-reconcile-{secrets.token_hex(3)}",
            "WRITER_TOPICS": f"{ORACLE_OPERATIONS.name},{ORACLE_STATE.name}",
        },
        stack=endpoints.env(),
        prefix=prefix,
    )
    return prefix
