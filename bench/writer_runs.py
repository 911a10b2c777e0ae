"""db-writer processes run over a published stream, timed from their start until their stored
offsets reach the end of every partition, with what they and the stack spent meanwhile."""

from __future__ import annotations

import asyncio
import os
import secrets
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import asyncpg
from db_writer.config import Settings as WriterSettings
from devstack import procs, services
from reservesync.topics import CHAIN_EVENTS

from bench import rss, service_metrics
from bench.own_stack import PREFIX, Database, log_tail
from bench.process_cpu import StackCpu, cpu_seconds

POLL_S = 0.1
STAGES = ("settle", "write", "stalled")
"""The writer's batch stages, as its `db_writer_batch_stage_seconds` names them."""


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


def writer_batch_max() -> int:
    """The most records the writer takes in one batch (its WRITER_BATCH_MAX)."""
    default = WriterSettings.model_fields["writer_batch_max"].default
    return int(os.environ.get("WRITER_BATCH_MAX", default))
