"""The benchmarks' own local stack in `.stack-bench/`: a new world for each run, fresh migrated
databases on its Postgres, a stream published into its Kafka, and a service's last log lines.

A developer's `.stack/` is never touched, and the benchmark's writer processes (`bench0` ..
`bench7`) are stopped at every start and end, whatever a killed run left behind."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import asyncpg
from devstack import database, services, stack
from devstack.paths import log_dir, stack_dir_at
from reservesync import kafka
from reservesync.db.migrate import upgrade
from reservesync.settings import KafkaSettings
from reservesync.topics import CHAIN_EVENTS

from bench import BENCH_STACK_DIR, stack_claimed
from bench.mixed_stream import Record

MAX_WRITERS = 8
"""Writer processes a benchmark may start (`bench0`..`bench7`), stopped again at any exit."""
PREFIX = "bench"
"""Process-name prefix of the benchmark's writer (the stack's `down` leaves it alone)."""


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


def log_tail(process: str, lines: int = 20) -> str:
    path = log_dir() / f"{process}.log"
    text = path.read_text(errors="replace") if path.exists() else ""
    return "\n".join(text.splitlines()[-lines:])


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
