"""The write path's own rules, on a database of its own: a record Postgres or asyncpg refuses
for any reason is dead-lettered and the rest of its batch is written once; Postgres unable to
work (rights revoked) is waited out, the writer saying so on `/readyz`, with nothing
dead-lettered for it."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Awaitable

import asyncpg
import pytest
from aiokafka import ConsumerRecord
from db_writer.batch_writer import BatchWriter
from db_writer.settling import settle
from db_writer.storage import SinkStore
from devstack import services
from devstack.protocol import Protocol
from pydantic import SecretStr
from reservesync import kafka
from reservesync.crypto import FieldCipher
from reservesync.settings import EncryptionSettings, KafkaSettings
from reservesync.topics import CHAIN_EVENTS, DLQ

from tests.support import probes
from tests.support.databases import FreshDatabase, offsets_written
from tests.support.messages import deposited, publish, synced
from tests.support.stack import Endpoints
from tests.support.topics import read_all
from tests.support.waiting import eventually, while_progressing


def _record(offset: int, key: bytes, value: bytes) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(CHAIN_EVENTS.name, 0, offset, 0, 0, key, value, None, 0, 0, [])


async def test_a_row_asyncpg_cannot_encode_is_dead_lettered_and_its_batch_written(
    endpoints: Endpoints, fresh_database: FreshDatabase
) -> None:
    """The decoder refuses values no column holds; this row bypasses it (as a mapping bug
    would) to prove the last line: any per-record failure, not only Postgres's data errors,
    sends that record alone to the DLQ."""
    cipher = FieldCipher.from_settings(
        EncryptionSettings(field_encryption_key=SecretStr(endpoints.field_encryption_key))
    )
    user = Protocol.new_user().lower()
    key = user.encode()
    offset0 = 10**6 + secrets.randbelow(10**6)  # a partition of its own in a fresh database
    values = [
        deposited(endpoints.deployment, user, 51).to_json(),
        synced(endpoints.deployment, user, 700, 700).to_json(),
        deposited(endpoints.deployment, user, 52).to_json(),
    ]
    settled = [settle(_record(offset0 + i, key, v), cipher) for i, v in enumerate(values)]
    poisoned = settled[1].rows
    assert poisoned is not None
    poisoned.tables["balance_history"][0]["block_number"] = 2**70  # no bigint holds it

    store = await SinkStore.connect(fresh_database.writer_url, "write-failures", 2)
    producer = kafka.producer(
        KafkaSettings(kafka_bootstrap_servers=endpoints.kafka_bootstrap_servers)
    )
    await producer.start()
    db = await asyncpg.connect(fresh_database.migrator_url)
    try:
        await BatchWriter(store, producer, cipher).write_settled(settled)
        amounts = await db.fetchval(
            "SELECT array_agg(amount ORDER BY amount) FROM transactions WHERE user_address = $1",
            user,
        )
        assert amounts == [51, 52]
        assert not await db.fetchval("SELECT count(*) FROM balance_history")
        assert (
            await db.fetchval(
                "SELECT next_offset FROM sink_offsets WHERE topic = $1", CHAIN_EVENTS.name
            )
            == offset0 + 3
        )
        assert not await db.fetchval("SELECT count(*) FROM dlq_outbox")  # published

        async def letter() -> dict[str, object] | None:
            for k, v, _, _ in await read_all(endpoints.kafka_bootstrap_servers, DLQ.name):
                if k == key and v is not None:
                    return dict(json.loads(v))
            return None

        found = await eventually(letter, what="the dead letter")
        assert found is not None
        assert found["offset"] == offset0 + 1
        assert str(found["error"]).startswith("OverflowError")
    finally:
        await db.close()
        await producer.stop()
        await store.close()


@pytest.mark.timeout(1800)
async def test_postgres_refusing_rights_is_waited_out_not_dead_lettered(
    endpoints: Endpoints, fresh_database: FreshDatabase
) -> None:
    group, prefix = (
        f"rbtc-db-writer-fault-rights-{secrets.token_hex(3)}",
        f"rt{secrets.token_hex(2)}",
    )
    admin = await asyncpg.connect(fresh_database.migrator_url)
    user = Protocol.new_user().lower()
    try:
        await asyncio.to_thread(
            services.start,
            ["db-writer"],
            {"DATABASE_URL": fresh_database.writer_url, "WRITER_GROUP_ID": group},
            stack=endpoints.env(),
            prefix=prefix,
        )

        def answers(path: str, status: int, says: str) -> Awaitable[bool]:
            return probes.answers("db-writer", prefix, path, status, says)

        await eventually(lambda: answers("/readyz", 200, "db-writer ok"), within=300, what="ready")
        await admin.execute("REVOKE INSERT ON transactions FROM rs_writer")
        await publish(
            endpoints.kafka_bootstrap_servers,
            CHAIN_EVENTS.name,
            [(user.encode(), deposited(endpoints.deployment, user, 61).to_json())],
        )
        await eventually(
            lambda: answers("/readyz", 503, "waiting for database"), within=120, what="not ready"
        )
        assert await answers("/healthz", 200, "waiting for database")
        await admin.execute("GRANT INSERT ON transactions TO rs_writer")
        # A new group reads the whole session's topics before this deposit: wait while it
        # advances.
        await while_progressing(
            lambda: admin.fetchval(
                "SELECT count(*) = 1 FROM transactions WHERE user_address = $1", user
            ),
            lambda: offsets_written(admin),
            what="the deposit written once the right is back",
        )
        await eventually(lambda: answers("/readyz", 200, "db-writer ok"), what="ready again")
        letters = await read_all(endpoints.kafka_bootstrap_servers, DLQ.name)
        assert not [v for k, v, _, _ in letters if k == user.encode()]
        assert services.running("db-writer", prefix=prefix)
    finally:
        await asyncio.to_thread(services.stop, ["db-writer"], prefix=prefix)
        await admin.close()
