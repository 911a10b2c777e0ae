"""The writer under faults, against real Kafka and Postgres: killed mid-batch, Postgres
restarted mid-stream, two instances sharing a group, and a replay of the topics. Each test
writes into a database of its own, with a consumer group of its own."""

from __future__ import annotations

import asyncio
import secrets
import subprocess
import sys
from collections import Counter
from collections.abc import Awaitable, Mapping, Sequence

import asyncpg
import pytest
from aiokafka import ConsumerRecord, TopicPartition
from db_writer.batch_writer import BatchWriter
from db_writer.checksum import combined, database_checksum
from db_writer.config import SOURCE_TOPICS, Settings
from db_writer.consumer import DbWriter
from db_writer.metrics import WRITE_STEP_SECONDS
from db_writer.settling import Settled
from devstack import postgres, services
from devstack.protocol import Protocol
from prometheus_client import REGISTRY
from pydantic import SecretStr
from reservesync import kafka
from reservesync.crypto import FieldCipher
from reservesync.settings import EncryptionSettings, KafkaSettings
from reservesync.topics import CHAIN_EVENTS

from tests.support import probes
from tests.support.databases import FreshDatabase, offsets_written
from tests.support.messages import deposited, publish
from tests.support.stack import Endpoints
from tests.support.tcp_proxy import cuttable
from tests.support.topics import records_from
from tests.support.waiting import eventually, while_progressing

STREAM = 100_000


async def _stream(endpoints: Endpoints, count: int, users: int = 500) -> list[str]:
    """Publish `count` deposits (amounts 1..count) spread over `users` fresh users."""
    people = [Protocol.new_user().lower() for _ in range(users)]
    records: list[tuple[bytes | None, bytes | None]] = []
    for i in range(count):
        user = people[i % users]
        records.append((user.encode(), deposited(endpoints.deployment, user, i + 1).to_json()))
    await publish(endpoints.kafka_bootstrap_servers, CHAIN_EVENTS.name, records)
    return people


def _writer(endpoints: Endpoints, fresh: FreshDatabase, group: str, prefix: str) -> None:
    services.start(
        ["db-writer"],
        {"DATABASE_URL": fresh.writer_url, "WRITER_GROUP_ID": group, "WRITER_BATCH_MAX": "2000"},
        stack=endpoints.env(),
        prefix=prefix,
    )


async def _deposits(connection: asyncpg.Connection, users: list[str]) -> tuple[int, int]:
    """(rows, distinct amounts) of one stream's deposits in the database."""
    row = await connection.fetchrow(
        "SELECT count(*) AS n, count(DISTINCT amount) AS d FROM transactions "
        "WHERE user_address = ANY($1::text[])",
        users,
    )
    return int(row["n"]), int(row["d"])


async def _counters_agree(connection: asyncpg.Connection) -> bool:
    """Counters equal the rows, read in one statement's snapshot."""
    agree = await connection.fetchval(
        "SELECT (SELECT count(*) FROM transactions) = (SELECT coalesce(sum(row_count), 0) "
        "FROM sink_counters WHERE table_name = 'transactions')"
    )
    return bool(agree)


async def _until_stored_all(
    connection: asyncpg.Connection, endpoints: Endpoints, what: str = "the stream"
) -> None:
    """A new writer group reads the whole session's topics, not only this test's stream: how
    long that takes grows with the suite and the load, so wait while the writer advances."""
    await while_progressing(
        lambda: _stored_all(connection, endpoints),
        lambda: offsets_written(connection),
        what=what,
    )


async def _stored_all(connection: asyncpg.Connection, endpoints: Endpoints) -> bool:
    """The database holds every record of every source topic published so far."""
    stored = await _stored_offsets(connection)
    every = {
        (t.name, p): stored.get(TopicPartition(t.name, p), 0)
        for t in SOURCE_TOPICS.values()
        for p in range(t.partitions)
    }
    return await records_from(endpoints.kafka_bootstrap_servers, every) == 0


@pytest.mark.timeout(1800)
async def test_killed_mid_batch_loses_and_duplicates_nothing(
    endpoints: Endpoints, fresh_database: FreshDatabase
) -> None:
    group = f"rbtc-db-writer-fault-kill-{secrets.token_hex(3)}"
    prefix = f"kill{secrets.token_hex(2)}"
    db = await asyncpg.connect(fresh_database.migrator_url)
    try:
        _writer(endpoints, fresh_database, group, prefix)
        users = await _stream(endpoints, STREAM)
        # Kill it while it is busy: some but not all of the stream is in.
        await eventually(lambda: _some_written(db), within=120, what="the first rows")
        services.kill("db-writer", prefix=prefix)
        written_at_kill = (await _deposits(db, users))[0]
        assert written_at_kill < STREAM, "the writer finished before the kill; stream more"
        _writer(endpoints, fresh_database, group, prefix)
        await _until_stored_all(db, endpoints, "the whole stream")
        rows, distinct = await _deposits(db, users)
        assert rows == distinct == STREAM
        assert await _counters_agree(db)
    finally:
        services.stop(["db-writer"], prefix=prefix)
        await db.close()


async def _some_written(db: asyncpg.Connection) -> bool:
    return bool(await db.fetchval("SELECT count(*) > 5000 FROM transactions"))


@pytest.mark.timeout(1800)
async def test_postgres_restart_mid_stream_is_waited_out(
    endpoints: Endpoints, fresh_database: FreshDatabase
) -> None:
    group, prefix = f"rbtc-db-writer-fault-pg-{secrets.token_hex(3)}", f"pg{secrets.token_hex(2)}"
    _writer(endpoints, fresh_database, group, prefix)
    try:
        users = await _stream(endpoints, 30_000)
        probe = await asyncpg.connect(fresh_database.migrator_url)
        await eventually(lambda: _some_written(probe), within=120, what="the first rows")
        await probe.close()
        await asyncio.to_thread(postgres.restart)
        assert services.running("db-writer", prefix=prefix), "the writer died with Postgres"
        db = await asyncpg.connect(fresh_database.migrator_url)
        try:
            await _until_stored_all(db, endpoints, "the stream")
            rows, distinct = await _deposits(db, users)
            assert rows == distinct == 30_000
            assert await _counters_agree(db)
        finally:
            await db.close()
    finally:
        services.stop(["db-writer"], prefix=prefix)


@pytest.mark.timeout(1800)
async def test_a_starting_writer_settles_each_record_once(
    endpoints: Endpoints, fresh_database: FreshDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The consumer fetches newly assigned partitions while the writer still looks up its
    stored offsets; records handed out before the seek were fetched and decoded again after
    it. The fence kept the rows right, so only the count of settled records shows it."""
    await _stream(endpoints, 20_000)
    settled: Counter[tuple[str, int, int]] = Counter()
    original = BatchWriter.settle_all

    def counting(
        self: BatchWriter, batch: Mapping[TopicPartition, Sequence[ConsumerRecord[bytes, bytes]]]
    ) -> list[Settled]:
        for records in batch.values():
            settled.update((r.topic, r.partition, r.offset) for r in records)
        return original(self, batch)

    monkeypatch.setattr(BatchWriter, "settle_all", counting)
    stages_before, steps_before = _stage_counts(), _step_seconds()
    write_seconds_before = _write_seconds()
    settings = Settings.model_validate(
        {
            "kafka_bootstrap_servers": endpoints.kafka_bootstrap_servers,
            "database_url": fresh_database.writer_url,
            "field_encryption_key": endpoints.field_encryption_key,
            "writer_group_id": f"fault-start-{secrets.token_hex(3)}",
            "writer_batch_max": 2000,
        }
    )
    stop = asyncio.Event()
    writer = asyncio.create_task(DbWriter(settings).run(stop))
    db = await asyncpg.connect(fresh_database.migrator_url)
    try:
        await _until_stored_all(db, endpoints, "the stream")
    finally:
        stop.set()
        await asyncio.wait_for(writer, timeout=60)
        await db.close()
    twice = sorted(key for key, times in settled.items() if times > 1)
    assert len(settled) >= 20_000
    assert not twice, f"{len(twice)} records settled twice, e.g. {twice[:3]}"
    # Every batch is timed in both halves (at 2,000 records a batch, at least ten of each):
    # what an operator reads to tell a database-bound writer from a CPU-bound one.
    settles, writes = (n - stages_before[i] for i, n in enumerate(_stage_counts()))
    assert settles >= 10
    assert writes == settles
    # And each transaction step by step, the steps inside the writes' time: what tells the
    # rows' own cost (COPY's too) from the claims and the bookkeeping around them.
    steps = {step: n - steps_before.get(step, 0.0) for step, n in _step_seconds().items()}
    charged = {step for step, seconds in steps.items() if seconds > 0}
    assert {"lock", "claims", "transactions", "bookkeeping", "commit"} <= charged, steps
    assert sum(steps.values()) <= _write_seconds() - write_seconds_before


def _step_seconds() -> dict[str, float]:
    """Seconds the batch transactions of this process spent per step."""
    return {
        sample.labels["step"]: sample.value
        for metric in WRITE_STEP_SECONDS.collect()
        for sample in metric.samples
        if sample.name.endswith("_total")
    }


def _write_seconds() -> float:
    """Seconds this process's batches spent in the write stage (transaction and Kafka commit)."""
    value = REGISTRY.get_sample_value("db_writer_batch_stage_seconds_sum", {"stage": "write"})
    return value or 0.0


def _stage_counts() -> tuple[float, float]:
    """How many batches the settle and the write stage have timed in this process."""
    settles, writes = (
        REGISTRY.get_sample_value("db_writer_batch_stage_seconds_count", {"stage": stage}) or 0.0
        for stage in ("settle", "write")
    )
    return settles, writes


@pytest.mark.timeout(1800)
async def test_kafka_learns_the_stored_offsets_even_when_nothing_more_arrives(
    endpoints: Endpoints, fresh_database: FreshDatabase
) -> None:
    """Lag tools read the group's offsets in Kafka. A commit Kafka refused (a writer paused past
    its session resumes into a rebalance) leaves them trailing the database; on a partition
    that receives nothing more, that lag would show for ever. So at assignment the writer tells
    Kafka what the database holds."""
    group = f"rbtc-db-writer-fault-lag-{secrets.token_hex(3)}"
    prefix = f"lag{secrets.token_hex(2)}"
    db = await asyncpg.connect(fresh_database.migrator_url)
    try:
        _writer(endpoints, fresh_database, group, prefix)
        await _stream(endpoints, 1_000, users=20)
        await _until_stored_all(db, endpoints, "the stream")
        services.stop(["db-writer"], prefix=prefix)
        stored = await _stored_offsets(db)
        await _commit_for(endpoints, group, dict.fromkeys(stored, 0))
        _writer(endpoints, fresh_database, group, prefix)
        await eventually(
            lambda: _kafka_holds_the_stored_offsets(db, endpoints, group),
            within=120,
            what="Kafka's copy of the stored offsets",
        )
    finally:
        services.stop(["db-writer"], prefix=prefix)
        await db.close()


async def _stored_offsets(db: asyncpg.Connection) -> dict[TopicPartition, int]:
    rows = await db.fetch("SELECT topic, partition, next_offset FROM sink_offsets")
    return {TopicPartition(r["topic"], r["partition"]): int(r["next_offset"]) for r in rows}


async def _commit_for(endpoints: Endpoints, group: str, offsets: dict[TopicPartition, int]) -> None:
    """Commits in the group's name while none of its members runs."""
    settings = KafkaSettings(kafka_bootstrap_servers=endpoints.kafka_bootstrap_servers)
    consumer = kafka.consumer(settings, group_id=group)
    await consumer.start()
    try:
        consumer.assign(list(offsets))
        await consumer.commit(offsets)
    finally:
        await consumer.stop()


async def _kafka_holds_the_stored_offsets(
    db: asyncpg.Connection, endpoints: Endpoints, group: str
) -> bool:
    settings = KafkaSettings(kafka_bootstrap_servers=endpoints.kafka_bootstrap_servers)
    admin = kafka.admin(settings)
    await admin.start()
    try:
        committed = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    stored = await _stored_offsets(db)
    return {tp: meta.offset for tp, meta in committed.items() if tp in stored} == stored


@pytest.mark.timeout(1800)
async def test_two_writers_share_partitions_and_write_each_row_once(
    endpoints: Endpoints, fresh_database: FreshDatabase
) -> None:
    group = f"rbtc-db-writer-fault-pair-{secrets.token_hex(3)}"
    first, second = f"a{secrets.token_hex(2)}", f"b{secrets.token_hex(2)}"
    _writer(endpoints, fresh_database, group, first)
    _writer(endpoints, fresh_database, group, second)
    db = await asyncpg.connect(fresh_database.migrator_url)
    try:
        users = await _stream(endpoints, 20_000)
        await _until_stored_all(db, endpoints, "the stream")
        rows, distinct = await _deposits(db, users)
        assert rows == distinct == 20_000
        assert await _counters_agree(db)
        assert services.running("db-writer", prefix=first)
        assert services.running("db-writer", prefix=second)
    finally:
        services.stop(["db-writer"], prefix=first)
        services.stop(["db-writer"], prefix=second)
        await db.close()


@pytest.mark.timeout(1800)
async def test_replay_rebuilds_the_same_content(
    pipeline: Endpoints, fresh_database: FreshDatabase
) -> None:
    """The session's live database against a replay of every topic into an empty one."""
    env = {**pipeline.env(), "DATABASE_URL": pipeline.database_urls["rs_writer"]}
    # Whatever the other tests published, and some of its own when run alone.
    await _stream(pipeline, 1_000, users=20)
    live = await asyncpg.connect(pipeline.migrator_url)
    try:
        await eventually(lambda: _stored_all(live, pipeline), within=120, what="live caught up")
        result = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "db_writer.replay", "--database-url", fresh_database.writer_url],
            env=env,
            capture_output=True,
            text=True,
            timeout=500,
            check=False,
        )
        assert result.returncode == 0, result.stderr[-3000:]
        assert "replay:" in result.stdout  # progress was shown
        assert "replayed" in result.stdout
        fields = FieldCipher.from_settings(
            EncryptionSettings(field_encryption_key=SecretStr(pipeline.field_encryption_key))
        )
        live_sum = await database_checksum(pipeline.migrator_url, fields)
        replayed_sum = await database_checksum(fresh_database.migrator_url, fields)
        assert replayed_sum == live_sum
        assert combined(replayed_sum) == combined(live_sum)
        assert live_sum["transactions"][0] > 0
    finally:
        await live.close()


@pytest.mark.timeout(1800)
async def test_a_writer_cut_off_from_postgres_says_so_and_resumes(
    endpoints: Endpoints, fresh_database: FreshDatabase
) -> None:
    """Postgres unreachable for this writer alone (a partition, not a restart): /readyz turns
    503 "waiting for database" while /healthz stays 200 (a restart would not help), and once
    the network is back the stream is written, once."""
    group, prefix = f"rbtc-db-writer-fault-cut-{secrets.token_hex(3)}", f"cut{secrets.token_hex(2)}"
    async with cuttable(fresh_database.writer_url) as proxy:
        overrides = {
            "DATABASE_URL": proxy.url_through(fresh_database.writer_url),
            "WRITER_GROUP_ID": group,
        }
        await asyncio.to_thread(
            services.start, ["db-writer"], overrides, stack=endpoints.env(), prefix=prefix
        )
        db = await asyncpg.connect(fresh_database.migrator_url)
        try:

            def answers(path: str, status: int, says: str) -> Awaitable[bool]:
                return probes.answers("db-writer", prefix, path, status, says)

            await eventually(lambda: answers("/readyz", 200, "db-writer ok"), what="ready")
            proxy.sever()
            users = await _stream(endpoints, 5_000, users=50)
            await eventually(
                lambda: answers("/readyz", 503, "waiting for database"), what="not ready"
            )
            assert await answers("/healthz", 200, "waiting for database")
            proxy.restore()
            await _until_stored_all(db, endpoints, "the stream")
            assert await _deposits(db, users) == (5_000, 5_000)
            assert await _counters_agree(db)
            await eventually(lambda: answers("/readyz", 200, "db-writer ok"), what="ready again")
        finally:
            await asyncio.to_thread(services.stop, ["db-writer"], prefix=prefix)
            await db.close()
