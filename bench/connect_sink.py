"""The db-writer beside Kafka Connect + the Debezium JDBC sink, on the same events, the same
broker, the same Postgres and the same tables, in one run; COPY of the same rows as the limit.

- db-writer: the mixed `chain.event/v1` stream of `bench/mixed_stream.py` in our format, from the
  process's start until its stored offsets reach the end (decode, validate, map, write).
- Debezium: the rows the writer makes of those events (its own mapping, deduplicated per key as
  COPY gets them), handed over already mapped, one topic per table, JSON with schemas; Connect
  standalone with the JDBC sink in upsert mode on each table's natural key ((chain_id, tx_hash,
  log_index) for the chain tables), from the JVM's start until the group's committed offsets
  reach the end of every topic. Mapping costs it nothing: a head start, stated with the figures.
- COPY: the same rows into a fresh database as the tables' owner (`bench/copy_limit.py`).

Each sink writes into a fresh migrated database; all three must hold the same row counts.
Sequential, not concurrent, so neither competes with the other for the two cores.

`python -m bench connect` (BENCH_CONNECT_EVENTS, default 100,000; the figures in
docs/benchmarks.md are at 1,000,000). Tuning of Debezium: BENCH_CONNECT_TASKS (1),
BENCH_CONNECT_BATCH (5000), BENCH_CONNECT_POLL (= batch), BENCH_CONNECT_REWRITE (1); writers
beside it: BENCH_CONNECT_WRITERS (1).
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Mapping

from aiokafka import TopicPartition
from aiokafka.admin import NewTopic
from db_writer.tables import SPEC_BY_TABLE
from devstack import procs
from devstack.deploy import DeploymentRecord
from devstack.paths import stack_dir
from pydantic import SecretStr
from reservesync import kafka
from reservesync.crypto import FieldCipher
from reservesync.settings import EncryptionSettings, KafkaSettings

from bench import connect_worker, copy_limit, mixed_stream, own_stack, process_cpu, writer_runs
from bench.connect_records import ConnectEncoding

COUNT = int(os.environ.get("BENCH_CONNECT_EVENTS", "100000"))
_BATCH = int(os.environ.get("BENCH_CONNECT_BATCH", "5000"))
TUNING = connect_worker.Tuning(
    tasks=int(os.environ.get("BENCH_CONNECT_TASKS", "1")),
    batch_size=_BATCH,
    max_poll_records=int(os.environ.get("BENCH_CONNECT_POLL", str(_BATCH))),
    rewrite_batched_inserts=os.environ.get("BENCH_CONNECT_REWRITE", "1") == "1",
)
WRITERS = int(os.environ.get("BENCH_CONNECT_WRITERS", "1"))
"""db-writer processes in one group, to set beside tasks.max."""
PARTITIONS = 12
"""As many as the events topic, so tasks.max > 1 has partitions to share."""
ANCHOR = 2300
"""events/s of Debezium's JDBC sink with batching in its own post (1M events, JSON converter,
MySQL, an 8-core laptop): https://debezium.io/blog/2023/12/20/JDBC-sink-connector-batch-support"""
GOAL_VS_DEBEZIUM = 5.0
GOAL_VS_COPY = 0.5
KAFKA_VERSION = "4.1.1"
DEBEZIUM_VERSION = "3.4.0.Final"
"""As in bench/connect/*.pom.xml."""
SEND_CHUNK = 20_000


async def publish_rows(bootstrap: str, copy: copy_limit.CopyRecords) -> dict[TopicPartition, int]:
    """Every table's rows on a topic of its name; returns the end offset of each partition."""
    admin = kafka.admin(KafkaSettings(kafka_bootstrap_servers=bootstrap))
    await admin.start()
    try:
        await admin.create_topics([NewTopic(table, PARTITIONS, 1) for table in copy])
    finally:
        await admin.close()
    producer = kafka.producer(KafkaSettings(kafka_bootstrap_servers=bootstrap), linger_ms=20)
    await producer.start()
    ends: dict[TopicPartition, int] = {}
    try:
        for table, rows in copy.items():
            encoding = ConnectEncoding(SPEC_BY_TABLE[table])
            for start in range(0, len(rows), SEND_CHUNK):
                chunk = rows[start : start + SEND_CHUNK]
                futures = [
                    await producer.send(table, value, key=key)
                    for key, value in encoding.records(chunk)
                ]
                for sent in await asyncio.gather(*futures):
                    tp = TopicPartition(table, sent.partition)
                    ends[tp] = max(ends.get(tp, 0), sent.offset + 1)
    finally:
        await producer.stop()
    return ends


async def _connect_caught_up(
    bootstrap: str, ends: Mapping[TopicPartition, int]
) -> tuple[float, int]:
    """Waits until the connector's group has committed every partition's end; returns the
    perf_counter time its first commit was seen and the records it covered."""
    admin = kafka.admin(KafkaSettings(kafka_bootstrap_servers=bootstrap))
    await admin.start()

    def still_running() -> None:
        if procs.running_pid(connect_worker.NAME) is None:
            raise procs.StackError(f"Connect exited:\n{connect_worker.log_tail()}")
        failed = connect_worker.failure()
        if failed is not None:
            raise procs.StackError(f"the Debezium JDBC sink failed:\n{failed[:3000]}")

    async def committed() -> dict[TopicPartition, int]:
        offsets = await admin.list_consumer_group_offsets(connect_worker.GROUP)
        return {tp: meta.offset for tp, meta in offsets.items() if meta.offset >= 0}

    try:
        return await writer_runs.until_caught_up(ends, committed, still_running)
    finally:
        await admin.close()


def run_connect(
    env: Mapping[str, str], db: own_stack.Database, ends: Mapping[TopicPartition, int]
) -> writer_runs.WriterRun:
    started = time.perf_counter()
    stack_cpu = process_cpu.StackCpu()
    pid = connect_worker.start(
        env["KAFKA_BOOTSTRAP_SERVERS"],
        db.writer_url,
        sorted({tp.topic for tp in ends}),
        TUNING,
    )
    try:
        timeout = 600 + sum(ends.values()) / 200
        first, first_records = asyncio.run(
            asyncio.wait_for(_connect_caught_up(env["KAFKA_BOOTSTRAP_SERVERS"], ends), timeout)
        )
        seconds = time.perf_counter() - started
        spent = stack_cpu.stop()
        return writer_runs.WriterRun(
            seconds,
            first - started,
            first_records,
            process_cpu.cpu_seconds(pid),
            writer_runs.peak_rss_mib(pid),
            os.getloadavg()[0],
            spent.postgres_cpu_s,
            spent.kafka_cpu_s,
        )
    finally:
        connect_worker.stop()


def run() -> dict[str, float]:
    started = time.perf_counter()
    with own_stack.bench_stack() as env:
        bootstrap = env["KAFKA_BOOTSTRAP_SERVERS"]
        deployment = DeploymentRecord.model_validate_json(
            (stack_dir() / "deployment.json").read_text()
        )
        connect_worker.ensure_jars()  # resolved before any clock starts
        records = mixed_stream.serialised(deployment, COUNT)
        published = asyncio.run(own_stack.publish(bootstrap, records))

        writer_db = own_stack.fresh_database(env, "writer")
        asyncio.run(own_stack.checkpoint(env["POSTGRES_ADMIN_URL"]))
        ours = writer_runs.run_writer(env, writer_db, published.ends(), WRITERS)

        cipher = FieldCipher.from_settings(
            EncryptionSettings(field_encryption_key=SecretStr(env["FIELD_ENCRYPTION_KEY"]))
        )
        copy = copy_limit.copy_records(records, published.positions, cipher)
        del records
        raw_db = own_stack.fresh_database(env, "raw")
        asyncio.run(own_stack.checkpoint(env["POSTGRES_ADMIN_URL"]))
        copy_s = asyncio.run(copy_limit.copy_into(raw_db.migrator_url, copy))

        t0 = time.perf_counter()
        ends = asyncio.run(publish_rows(bootstrap, copy))
        rows_publish_s = time.perf_counter() - t0
        debezium_db = own_stack.fresh_database(env, "debezium")
        asyncio.run(own_stack.checkpoint(env["POSTGRES_ADMIN_URL"]))
        theirs = run_connect(env, debezium_db, ends)

        expected = {table: len(rows) for table, rows in copy.items()}
        for db in (writer_db, raw_db, debezium_db):
            asyncio.run(copy_limit.check_rows(db, expected))
    rows = sum(expected.values())
    return {
        "events": COUNT,
        "rows": rows,
        "tables": len(expected),
        "copy_s": copy_s,
        "rows_publish_s": rows_publish_s,
        **_figures("ours", ours, COUNT, 1.0),
        # Connect's records are rows: its steady rate is in rows, converted to events.
        **_figures("theirs", theirs, rows, COUNT / rows),
        "total_s": time.perf_counter() - started,
    }


def _figures(
    name: str, run: writer_runs.WriterRun, records: int, events_per_record: float
) -> dict[str, float]:
    return {
        f"{name}_s": run.seconds,
        f"{name}_first_s": run.first_commit_s,
        f"{name}_steady_eps": run.steady_per_s(records) * events_per_record,
        f"{name}_cpu_s": run.cpu_s,
        f"{name}_rss_mib": run.peak_rss_mib,
        f"{name}_load": run.load,
    }


def _met(ok: bool) -> str:
    return "met" if ok else "NOT met"


def lines(f: Mapping[str, float]) -> list[str]:
    events, rows = f["events"], f["rows"]
    ours_eps, theirs_eps = events / f["ours_s"], events / f["theirs_s"]
    copy_eps = events / f["copy_s"]
    vs_debezium, vs_copy = ours_eps / theirs_eps, ours_eps / copy_eps

    def sink_line(name: str) -> str:
        eps = events / f[f"{name}_s"]
        return (
            f"{f[f'{name}_s']:.1f}s = {eps:,.0f} events/s, {rows / f[f'{name}_s']:,.0f} rows/s "
            f"(first commit at {f[f'{name}_first_s']:.1f}s, "
            f"{f[f'{name}_steady_eps']:,.0f} events/s after it); CPU {f[f'{name}_cpu_s']:.1f}s "
            f"= {1000 * f[f'{name}_cpu_s'] / events:.2f}s per 1k events; "
            f"peak RSS {f[f'{name}_rss_mib']:.0f} MiB; 1-min load at its end "
            f"{f[f'{name}_load']:.2f}"
        )

    return [
        f"connect: {events:,.0f} mixed chain.event/v1 -> {rows:,.0f} rows in "
        f"{f['tables']:.0f} tables, each sink into a fresh database, one after the other",
        f"  db-writer x{WRITERS} (our format; decode, validate, map, write): {sink_line('ours')}",
        f"  Kafka Connect {KAFKA_VERSION} standalone + Debezium JDBC sink {DEBEZIUM_VERSION} "
        f"(rows already mapped, JSON with schemas, upsert; {TUNING.describe()}): "
        f"{sink_line('theirs')}",
        f"  raw limit, COPY of the same rows: {f['copy_s']:.1f}s = {copy_eps:,.0f} events/s",
        f"  db-writer / Debezium = {vs_debezium:.1f}x (goal >= {GOAL_VS_DEBEZIUM:.0f}x: "
        f"{_met(vs_debezium >= GOAL_VS_DEBEZIUM)}); db-writer / COPY = {vs_copy:.2f} "
        f"(goal >= {GOAL_VS_COPY}: {_met(vs_copy >= GOAL_VS_COPY)}); Debezium's own published "
        f"figure: {ANCHOR:,} events/s",
        f"  publishing the rows for Connect (not timed) {f['rows_publish_s']:.0f}s; "
        f"whole benchmark {f['total_s']:.0f}s",
    ]


def main() -> int:
    print(f"command: BENCH_CONNECT_EVENTS={COUNT} .venv/bin/python -m bench connect")
    for line in lines(run()):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
