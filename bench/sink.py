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

import asyncio
import os
import sys
import time
from collections.abc import Mapping, Sequence

from db_writer.merged import MERGED
from db_writer.tables import SPECS
from devstack.deploy import DeploymentRecord
from devstack.paths import stack_dir
from pydantic import SecretStr
from reservesync.crypto import FieldCipher
from reservesync.settings import EncryptionSettings

from bench import machine
from bench.copy_limit import check_rows, copy_records, copy_tables
from bench.mixed_stream import MIX, USERS, serialised
from bench.own_stack import bench_stack, checkpoint, fresh_database, publish
from bench.process_cpu import StackCpu
from bench.writer_runs import STAGES, WriterRun, run_writer, writer_batch_max

COUNT = int(os.environ.get("BENCH_SINK_EVENTS", "300000"))
# The topics have 12 partitions so writers can scale out; 2 cores bound what helps here.
WRITER_COUNTS = tuple(int(n) for n in os.environ.get("BENCH_SINK_WRITERS", "1,2").split(","))
TARGET = 0.5


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
        "writer_batch_max": writer_batch_max(),
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
