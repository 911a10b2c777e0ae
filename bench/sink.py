"""Sustained events/s from Kafka into Postgres through the db-writer, beside the raw limit.

A stream of mixed `chain.event/v1` is published once; for each count in `BENCH_SINK_WRITERS`
(default 1 and 2), that many db-writer processes in one consumer group sink it into a fresh
database, timed from their start until the stored offsets reach the end of every partition.
The raw limit is COPY of the same rows (the writer's own mapping, deduplicated as the writer
does) into a second fresh database on the same server. The target: the writer reaches at least
half the raw limit.

The benchmark runs on a local stack of its own in `.stack-bench/` (`RESERVESYNC_STACK_DIR`),
started anew for each run and stopped at the end; the developer's `.stack/` is never touched.

`make bench` runs it with the others; `BENCH_SINK_EVENTS=N .venv/bin/python -m bench.sink`
runs it alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import asyncpg
from db_writer.config import Settings as WriterSettings
from db_writer.mapping import Row, Rows, Source, rows_for
from db_writer.merged import MERGED
from db_writer.tables import SPECS
from devstack import database, procs, services, stack
from devstack.deploy import DeploymentRecord
from devstack.paths import log_dir, stack_dir, stack_dir_at
from pydantic import SecretStr
from reservesync import kafka
from reservesync.crypto import FieldCipher
from reservesync.db.migrate import upgrade
from reservesync.messages import decode
from reservesync.settings import EncryptionSettings, KafkaSettings
from reservesync.topics import CHAIN_EVENTS

from bench import BENCH_STACK_DIR, machine, rss, service_metrics, stack_claimed
from bench.mixed_stream import MIX, USERS, Record, serialised
from bench.process_cpu import StackCpu, cpu_seconds

COUNT = int(os.environ.get("BENCH_SINK_EVENTS", "300000"))
# The topics have 12 partitions so writers can scale out; 2 cores bound what helps here.
WRITER_COUNTS = tuple(int(n) for n in os.environ.get("BENCH_SINK_WRITERS", "1,2").split(","))
MAX_WRITERS = 8
"""Writer processes a benchmark may start (`bench0`..`bench7`), stopped again at any exit."""
PREFIX = "bench"
"""Process-name prefix of the benchmark's writer (the stack's `down` leaves it alone)."""
TARGET = 0.5
CHUNK = 5000
"""Records mapped at a time when building the COPY rows (the writer's default batch)."""
POLL_S = 0.1
STAGES = ("settle", "write", "stalled")
"""The writer's batch stages, as its `db_writer_batch_stage_seconds` names them."""


@dataclass(frozen=True)
class Published:
    seconds: float
    positions: list[tuple[int, int]]
    """(partition, offset) of each record, in publishing order."""

    def ends(self) -> dict[int, int]:
        """Partition -> the offset after its last record."""
        ends: dict[int, int] = {}
        for partition, offset in self.positions:
            ends[partition] = max(ends.get(partition, 0), offset + 1)
        return ends


async def publish(bootstrap: str, records: Sequence[Record]) -> Published:
    """One idempotent producer, batching (the project's producer settings, 20 ms linger)."""
    producer = kafka.producer(KafkaSettings(kafka_bootstrap_servers=bootstrap), linger_ms=20)
    await producer.start()
    try:
        started = time.perf_counter()
        futures = [await producer.send(CHAIN_EVENTS.name, value, key=key) for key, value in records]
        sent = await asyncio.gather(*futures)
        seconds = time.perf_counter() - started
    finally:
        await producer.stop()
    return Published(seconds, [(m.partition, m.offset) for m in sent])


@dataclass(frozen=True)
class Database:
    """A fresh, migrated database on the benchmark's server."""

    name: str
    writer_url: str
    migrator_url: str


def _on(url: str, name: str) -> str:
    return url.rsplit("/", 1)[0] + f"/{name}"


def fresh_database(env: Mapping[str, str], purpose: str) -> Database:
    name = f"bench_{purpose}_{secrets.token_hex(3)}"
    asyncio.run(database.create(env["POSTGRES_ADMIN_URL"], name))
    fresh = Database(name, _on(env["DB_WRITER_DATABASE_URL"], name), _on(env["DATABASE_URL"], name))
    upgrade(fresh.migrator_url)
    return fresh


async def checkpoint(admin_url: str) -> None:
    """Flush what earlier phases left dirty, so each timed phase starts from a clean server."""
    connection = await asyncpg.connect(admin_url)
    try:
        await connection.execute("CHECKPOINT")
    finally:
        await connection.close()


@dataclass(frozen=True)
class WriterRun:
    seconds: float
    """From the process's start until its stored offsets reach every partition's end."""
    first_commit_s: float
    """From the process's start until its first batch is in the database."""
    first_records: int
    """Records already written when the first batch was seen: the steady rate is that of the
    rest, without the start-up."""
    cpu_s: float
    peak_rss_mib: float
    load: float
    """The machine's 1-minute load average when it caught up (others share the two cores)."""
    postgres_cpu_s: float
    kafka_cpu_s: float
    """What the stack's Postgres and Kafka spent meanwhile (`StackCpu`)."""
    stages: Mapping[str, float] = field(default_factory=dict)
    """Seconds the writers' batches spent per stage (`db_writer_batch_stage_seconds`)."""
    steps: Mapping[str, float] = field(default_factory=dict)
    """Seconds their transactions spent per step (`db_writer_write_step_seconds`)."""

    @property
    def stack_cpu_s(self) -> float:
        """The whole sink's CPU: the writers', and what they asked of Postgres and Kafka."""
        return self.cpu_s + self.postgres_cpu_s + self.kafka_cpu_s

    def steady_per_s(self, records: int) -> float:
        """Records/s after the first batch was seen: the rate without the start-up."""
        rest, seconds = records - self.first_records, self.seconds - self.first_commit_s
        return rest / seconds if rest > 0 and seconds > 0 else records / self.seconds


def writer_seconds(prefix: str) -> tuple[dict[str, float], dict[str, float]]:
    """One running writer's seconds, from one read of its metrics: per batch stage
    (`db_writer_batch_stage_seconds`) and per step of its transactions
    (`db_writer_write_step_seconds`)."""
    stages: dict[str, float] = {}
    steps: dict[str, float] = {}
    for sample in service_metrics.samples("db-writer", prefix):
        if sample.name == "db_writer_batch_stage_seconds_sum":
            stages[sample.labels["stage"]] = sample.value
        elif sample.name == "db_writer_write_step_seconds_total":
            steps[sample.labels["step"]] = sample.value
    return stages, steps


def peak_rss_mib(pid: int) -> float:
    return rss.field_mib(pid, "VmHWM")


def log_tail(process: str, lines: int = 20) -> str:
    path = log_dir() / f"{process}.log"
    text = path.read_text(errors="replace") if path.exists() else ""
    return "\n".join(text.splitlines()[-lines:])


async def _stored_offsets(connection: asyncpg.Connection, group: str) -> dict[int, int]:
    records = await connection.fetch(
        "SELECT partition, next_offset FROM sink_offsets WHERE consumer_group = $1 AND topic = $2",
        group,
        CHAIN_EVENTS.name,
    )
    return {int(r["partition"]): int(r["next_offset"]) for r in records}


K = TypeVar("K", bound=Hashable)


async def until_caught_up(
    ends: Mapping[K, int],
    committed: Callable[[], Awaitable[Mapping[K, int]]],
    still_running: Callable[[], None],
) -> tuple[float, int]:
    """Polls a sink's committed offsets until they reach every partition's end; returns when
    (perf_counter) they were first seen and how many records they covered then.
    `still_running` raises when the sink has died."""
    first: tuple[float, int] | None = None
    while True:
        still_running()
        done = await committed()
        if done and first is None:
            first = (time.perf_counter(), sum(done.values()))
        if all(done.get(key, 0) >= end for key, end in ends.items()):
            return first or (time.perf_counter(), 0)
        await asyncio.sleep(POLL_S)


async def caught_up(
    db: Database, group: str, ends: Mapping[int, int], processes: Sequence[str]
) -> tuple[float, int]:
    """Waits until the writers have stored every partition's end offset (`until_caught_up`)."""

    def still_running() -> None:
        for process in processes:
            if procs.running_pid(process) is None:
                tail = log_tail(process)
                raise procs.StackError(f"a db-writer exited; last log lines:\n{tail}")

    connection = await asyncpg.connect(db.writer_url)
    try:
        return await until_caught_up(
            ends, lambda: _stored_offsets(connection, group), still_running
        )
    finally:
        await connection.close()


def run_writer(
    env: Mapping[str, str],
    db: Database,
    ends: Mapping[int, int],
    count: int,
    group: str | None = None,
) -> WriterRun:
    """`count` db-writer processes in one consumer group over the stream, from their start
    until they have stored it all; CPU is summed over them, peak memory is the largest."""
    group = group or f"rbtc-db-writer-bench-{secrets.token_hex(3)}"
    prefixes = [f"{PREFIX}{i}" for i in range(count)]
    processes = [services.SERVICES["db-writer"].process(prefix) for prefix in prefixes]
    timeout = 300 + sum(ends.values()) / 500
    started = time.perf_counter()
    stack_cpu = StackCpu()
    for prefix in prefixes:
        services.start(
            ["db-writer"],
            {"DATABASE_URL": db.writer_url, "WRITER_GROUP_ID": group},
            stack=env,
            prefix=prefix,
        )
    try:
        pids = [procs.running_pid(process) for process in processes]
        if None in pids:
            raise procs.StackError(f"a db-writer did not start:\n{log_tail(processes[0])}")
        first, first_records = asyncio.run(
            asyncio.wait_for(caught_up(db, group, ends, processes), timeout)
        )
        seconds = time.perf_counter() - started
        spent = stack_cpu.stop()
        live = [pid for pid in pids if pid is not None]
        stages: Counter[str] = Counter()
        steps: Counter[str] = Counter()
        for prefix in prefixes:
            writer_stages, writer_steps = writer_seconds(prefix)
            stages.update(writer_stages)
            steps.update(writer_steps)
        return WriterRun(
            seconds,
            first - started,
            first_records,
            sum(cpu_seconds(pid) for pid in live),
            max(peak_rss_mib(pid) for pid in live),
            os.getloadavg()[0],
            spent.postgres_cpu_s,
            spent.kafka_cpu_s,
            stages,
            steps,
        )
    finally:
        for prefix in prefixes:
            services.stop(["db-writer"], prefix=prefix)


# The tables COPY fills: the writer's own, and the evidence its merged tables (users, emergency
# burns) are computed from; those two are derived in SQL by the writer, which COPY is spared.
COPIED = (*SPECS, *(merged.evidence for merged in MERGED))
COPIED_BY_TABLE = {spec.name: spec for spec in COPIED}
CopyRecords = dict[str, list[tuple[Any, ...]]]
"""Table -> its rows as COPY records, in the column order of its TableSpec."""


def copy_records(
    records: Sequence[Record], positions: Sequence[tuple[int, int]], cipher: FieldCipher
) -> CopyRecords:
    """The rows the writer makes of these records (its own mapping, each row with the
    partition and offset the record got), deduplicated as the writer does it: rows of one key
    merged (`TableSpec.deduplicated`) in tables that upsert, every row kept in the others."""
    copy: CopyRecords = defaultdict(list)
    merging: dict[str, list[Row]] = defaultdict(list)
    for start in range(0, len(records), CHUNK):
        rows = Rows()
        for (_, value), (partition, offset) in zip(
            records[start : start + CHUNK], positions[start : start + CHUNK], strict=True
        ):
            message = decode(value, CHAIN_EVENTS.carries)
            rows.extend(rows_for(message, Source(CHAIN_EVENTS.name, partition, offset), cipher))
        for table, chunk in rows.tables.items():
            spec = COPIED_BY_TABLE[table]
            if spec.on_conflict == "DO NOTHING":
                copy[table].extend(spec.records(chunk))
            else:
                merging[table] = spec.deduplicated([*merging[table], *chunk])
    for table, rows_of_key in merging.items():
        copy[table].extend(COPIED_BY_TABLE[table].records(rows_of_key))
    return dict(copy)


async def copy_into(url: str, copy: CopyRecords) -> float:
    """COPY every table's records, table by table; returns the seconds the COPYs took."""
    return sum((await copy_tables(url, copy)).values())


async def copy_tables(url: str, copy: CopyRecords) -> dict[str, float]:
    """COPY every table's records, table by table; returns the seconds each table's took.

    As the tables' owner: Postgres refuses COPY FROM under row-level security, which applies to
    the writer's role (its policy is `USING (true)`, so the two see the same tables)."""
    connection = await asyncpg.connect(url)
    seconds: dict[str, float] = {}
    try:
        for spec in COPIED:
            if copy.get(spec.name):
                started = time.perf_counter()
                await connection.copy_records_to_table(
                    spec.name, records=copy[spec.name], columns=[c for c, _ in spec.columns]
                )
                seconds[spec.name] = time.perf_counter() - started
        return seconds
    finally:
        await connection.close()


async def check_rows(db: Database, expected: Mapping[str, int]) -> None:
    """Every table holds exactly the rows the mapping predicts."""
    connection = await asyncpg.connect(db.migrator_url)
    try:
        found = {
            table: int(await connection.fetchval(f"SELECT count(*) FROM {table}"))
            for table in expected
        }
    finally:
        await connection.close()
    if found != dict(expected):
        raise RuntimeError(f"{db.name}: rows {found}, the mapping predicts {dict(expected)}")


async def warm_up_group_coordinator(bootstrap: str) -> None:
    """The broker creates its offsets topic at the first group's first request, which takes a
    few seconds and makes that group rejoin; a throwaway group pays for it before any clock
    starts, instead of whichever sink happens to run first."""
    consumer = kafka.consumer(
        KafkaSettings(kafka_bootstrap_servers=bootstrap), CHAIN_EVENTS.name, group_id="bench-warmup"
    )
    await consumer.start()
    try:
        await consumer.getmany(timeout_ms=1000)
        while not consumer.assignment():
            await consumer.getmany(timeout_ms=500)
    finally:
        await consumer.stop()


@contextlib.contextmanager
def bench_stack() -> Iterator[dict[str, str]]:
    """The benchmark's own local stack in `.stack-bench/`: a new world each run (stopping
    leftovers first makes `up` start one), stopped at the end."""
    with stack_claimed(), stack_dir_at(BENCH_STACK_DIR):
        try:
            for i in range(MAX_WRITERS):
                services.stop(["db-writer"], prefix=f"{PREFIX}{i}")
            stack.down(progress=lambda _: None)
            env = stack.up()
            asyncio.run(warm_up_group_coordinator(env["KAFKA_BOOTSTRAP_SERVERS"]))
            yield env
        finally:
            for i in range(MAX_WRITERS):
                services.stop(["db-writer"], prefix=f"{PREFIX}{i}")
            stack.down()


def _writer_batch_max() -> int:
    default = WriterSettings.model_fields["writer_batch_max"].default
    return int(os.environ.get("WRITER_BATCH_MAX", default))


def run(count: int = COUNT, writer_counts: Sequence[int] = WRITER_COUNTS) -> dict[str, float]:
    started = time.perf_counter()
    with bench_stack() as env:
        deployment = DeploymentRecord.model_validate_json(
            (stack_dir() / "deployment.json").read_text()
        )
        records = serialised(deployment, count)
        published = asyncio.run(publish(env["KAFKA_BOOTSTRAP_SERVERS"], records))

        writers: dict[int, WriterRun] = {}
        sink_dbs = []
        for writer_count in writer_counts:
            sink_db = fresh_database(env, f"sink{writer_count}")
            sink_dbs.append(sink_db)
            asyncio.run(checkpoint(env["POSTGRES_ADMIN_URL"]))
            writers[writer_count] = run_writer(env, sink_db, published.ends(), writer_count)

        cipher = FieldCipher.from_settings(
            EncryptionSettings(field_encryption_key=SecretStr(env["FIELD_ENCRYPTION_KEY"]))
        )
        copy = copy_records(records, published.positions, cipher)
        del records
        raw_db = fresh_database(env, "raw")
        asyncio.run(checkpoint(env["POSTGRES_ADMIN_URL"]))
        stack_cpu, client_cpu = StackCpu(), time.process_time()
        copied = asyncio.run(copy_tables(raw_db.migrator_url, copy))
        copy_cpu_s = time.process_time() - client_cpu + stack_cpu.stop().postgres_cpu_s

        expected = {table: len(rows) for table, rows in copy.items()}
        for db in (*sink_dbs, raw_db):
            asyncio.run(check_rows(db, expected))
    rows = sum(expected.values())
    return {
        "events": count,
        "rows": rows,
        "tables": len(expected),
        "publish_s": published.seconds,
        **{
            f"writers{n}_{name}": value
            for n, run in writers.items()
            for name, value in (
                ("s", run.seconds),
                ("first_commit_s", run.first_commit_s),
                ("steady_eps", run.steady_per_s(count)),
                ("cpu_s", run.cpu_s),
                ("peak_rss_mib", run.peak_rss_mib),
                ("load", run.load),
                ("postgres_cpu_s", run.postgres_cpu_s),
                ("kafka_cpu_s", run.kafka_cpu_s),
                *((f"{stage}_s", run.stages.get(stage, 0.0)) for stage in STAGES),
                *((f"step_{step}_s", seconds) for step, seconds in run.steps.items()),
            )
        },
        "writer_batch_max": _writer_batch_max(),
        "copy_s": sum(copied.values()),
        **{f"copy_{table}_s": seconds for table, seconds in copied.items()},
        "copy_cpu_s": copy_cpu_s,
        "cores": os.cpu_count() or 1,
        "total_s": time.perf_counter() - started,
    }


def lines(figures: Mapping[str, float], counts: Sequence[int] = WRITER_COUNTS) -> list[str]:
    events, rows, copy_s = figures["events"], figures["rows"], figures["copy_s"]
    out = [
        f"sink: {events:,.0f} mixed chain.event/v1 ({MIX}) over {USERS:,} users "
        f"-> {rows:,.0f} rows in {figures['tables']:.0f} tables",
        f"  publish (not part of the sink figure): {figures['publish_s']:.1f}s = "
        f"{events / figures['publish_s']:,.0f} events/s, one idempotent batching producer",
        f"  raw limit, COPY of the same rows into a fresh database: {copy_s:.1f}s = "
        f"{events / copy_s:,.0f} events/s equivalent, {rows / copy_s:,.0f} rows/s; "
        f"CPU {figures['copy_cpu_s']:.1f}s (client and Postgres)",
    ]
    for count in counts:
        writer_s, cpu_s = figures[f"writers{count}_s"], figures[f"writers{count}_cpu_s"]
        ratio = copy_s / writer_s
        out += [
            f"  db-writer x{count} in one group (batches of <= "
            f"{figures['writer_batch_max']:.0f}): {writer_s:.1f}s from start to caught up "
            f"(first batch in at {figures[f'writers{count}_first_commit_s']:.1f}s) = "
            f"{events / writer_s:,.0f} events/s ({figures[f'writers{count}_steady_eps']:,.0f} "
            f"after the first batch), {rows / writer_s:,.0f} rows/s; "
            f"CPU {cpu_s:.1f}s = {100 * cpu_s / writer_s:.0f}% of one core in all; "
            f"peak RSS {figures[f'writers{count}_peak_rss_mib']:.0f} MiB; load "
            f"{figures[f'writers{count}_load']:.2f}",
            f"    writer/COPY = {ratio:.2f} "
            f"(target >= {TARGET:.2f}: {'met' if ratio >= TARGET else 'NOT met'})",
            *cpu_account(figures, count),
        ]
    out.append(f"  whole benchmark {figures['total_s']:.0f}s")
    return out


def cpu_account(figures: Mapping[str, float], count: int) -> list[str]:
    """Where the sink's CPU went, and the writer/COPY ratio the machine's cores allow it:
    however well it overlaps, the run cannot take less wall time than its CPU over the cores."""
    writer, pg, broker = (
        figures[f"writers{count}_{kind}cpu_s"] for kind in ("", "postgres_", "kafka_")
    )
    whole, cores = writer + pg + broker, figures["cores"]
    settle, write, stalled = (figures[f"writers{count}_{stage}_s"] for stage in STAGES)
    return [
        f"    batches: settling {settle:.1f}s, writing {write:.1f}s, stalled {stalled:.1f}s "
        "(settled, waiting for the write before: the part Postgres bounds)",
        *write_steps(figures, count),
        f"    CPU of the sink: writer {writer:.1f}s + Postgres {pg:.1f}s + Kafka {broker:.1f}s "
        f"= {whole:.1f}s, {whole / figures['copy_cpu_s']:.1f}x COPY's; on {cores:.0f} cores "
        f"writer/COPY can reach at most {figures['copy_s'] * cores / whole:.2f}",
    ]


def write_steps(figures: Mapping[str, float], count: int) -> list[str]:
    """The writers' transactions step by step: each table's rows beside the COPY of the same
    rows, then the steps COPY does not have (the evidence COPY fills stands for `derived`)."""
    prefix = f"writers{count}_step_"
    steps = {
        name.removeprefix(prefix).removesuffix("_s"): seconds
        for name, seconds in figures.items()
        if name.startswith(prefix)
    }
    table_names = [spec.name for spec in SPECS if spec.name in steps]
    tables = [
        f"{name} {steps[name]:.1f}s ({figures.get(f'copy_{name}_s', 0.0):.1f}s)"
        for name in table_names
    ]
    own = [f"{step} {seconds:.1f}s" for step, seconds in steps.items() if step not in table_names]
    evidence = sum(figures.get(f"copy_{merged.evidence.name}_s", 0.0) for merged in MERGED)
    return [
        f"    write steps, tables (COPY of the same rows): {', '.join(tables)}",
        f"    write steps, the writer's own: {', '.join(own)} (COPY of the evidence "
        f"behind `derived`: {evidence:.1f}s)",
    ]


def main() -> int:
    print(machine.describe())
    print(f"command: BENCH_SINK_EVENTS={COUNT} .venv/bin/python -m bench.sink")
    for line in lines(run()):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
