"""How the db-writer scales: with more instances in one consumer group, and with more rows
already in the tables.

- Instances: `bench/sink.py` with 1, 2 and 4 writers in one group over the same stream, each
  into a fresh database. On two cores, with Postgres on the same two, the curve can show
  whether a second process adds throughput and that more processes than cores do not break
  anything (partitions move, nothing is written twice); it cannot show how far the design
  scales on a machine with cores to spare.
- Rows in the tables: one database grows step by step to each size in
  BENCH_SCALING_SIZES (rows in the four big chain tables, split as the mixed stream splits
  them, plus a user for every 20 rows), filled quickly with generate_series as the tables'
  owner, vacuumed and analysed; then the writer sinks a fixed batch of new events of the same
  stream and its rate and memory are taken. The same consumer group continues each time, so
  only the new batch is written.

`python -m bench scaling` (BENCH_SCALING_EVENTS=200000 for the instance curve,
BENCH_SCALING_WRITERS=1,2,4, BENCH_SCALING_SIZES=10000,100000,1000000,
BENCH_SCALING_BATCH=100000; 10,000,000 rows takes several minutes to fill). An empty list skips
that half.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import secrets
import sys
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import asyncpg
from db_writer.mapping import Source
from db_writer.mapping.chain import chain_event_rows
from devstack.deploy import DeploymentRecord
from devstack.paths import stack_dir
from reservesync.topics import CHAIN_EVENTS

from bench import mixed_stream, own_stack, sink, writer_runs

INSTANCE_EVENTS = int(os.environ.get("BENCH_SCALING_EVENTS", "200000"))
INSTANCES = [int(n) for n in os.environ.get("BENCH_SCALING_WRITERS", "1,2,4").split(",") if n]
SIZES = [
    int(n) for n in os.environ.get("BENCH_SCALING_SIZES", "10000,100000,1000000").split(",") if n
]
BATCH = int(os.environ.get("BENCH_SCALING_BATCH", "100000"))
ROWS_PER_USER = 20
MAX_USERS = 500_000

# Columns every prefilled row shares: a chain origin of its own (hashes from md5, distinct from
# the stream's sha256 ones), block timestamps within the last 58 days (inside the 90-day
# retention of snapshots, as live rows are), and a provenance on the events topic.
ORIGIN = (
    "$3::bigint, '0x' || md5('t' || g) || md5('u' || g), 0, 4000000 + g / 10, "
    "'0x' || md5('b' || g / 10) || md5('c' || g / 10), now() - make_interval(secs => g % 5000000)"
)
ORIGIN_COLUMNS = "chain_id, tx_hash, log_index, block_number, block_hash, block_timestamp"
USER = f"'0x' || md5('a' || g % {MAX_USERS}) || left(md5('d' || g % {MAX_USERS}), 8)"
PROVENANCE = f"'{CHAIN_EVENTS.name}', (g % 12)::int, g"
PROVENANCE_COLUMNS = "src_topic, src_partition, src_offset"
PREFILL = {
    "transactions": (
        "user_address, tx_type, amount, unit, balance_after_sats, fee_wei, contract, event",
        f"{USER}, 'DEPOSIT', 1000000000000000, 'wei', NULL, NULL, 'FeeVault', 'Deposited'",
    ),
    "balance_history": (
        "user_address, previous_sats, new_sats, delta_sats, fee_wei, cause",
        f"{USER}, 1000, 2000, 1000, 2000000000000000, 'SYNC'",
    ),
    "balance_snapshots": (
        "user_address, balance_sats, taken_at",
        f"{USER}, 2000, now() - make_interval(secs => g % 5000000)",
    ),
    "yield_operations_log": (
        "operation, user_address, participant_type, amount, details",
        f"'YIELD_CLAIMED', {USER}, NULL, 1000, '{{}}'",
    ),
}
USERS_SQL = (
    "INSERT INTO users (address, first_seen_source, first_seen_block, first_seen_at, "
    f"seen_on_chain, known_to_oracle, {PROVENANCE_COLUMNS}) "
    f"SELECT {USER}, 'chain', 4000000, now() - interval '58 days', true, false, {PROVENANCE} "
    "FROM generate_series($1::bigint, $2::bigint) g ON CONFLICT DO NOTHING"
)


def _insert_sql(table: str) -> str:
    columns, values = PREFILL[table]
    return (
        f"INSERT INTO {table} ({columns}, {ORIGIN_COLUMNS}, {PROVENANCE_COLUMNS}) "
        f"SELECT {values}, {ORIGIN}, {PROVENANCE} FROM generate_series($1::bigint, $2::bigint) g"
    )


def shares(deployment: DeploymentRecord, sample: int = 20_000) -> dict[str, float]:
    """How the stream's rows split over the prefilled tables."""
    counts: Counter[str] = Counter()
    events = itertools.islice(mixed_stream.MixedStream(deployment).events(sample), sample)
    for offset, event in enumerate(events):
        for table, rows in chain_event_rows(
            event, Source(CHAIN_EVENTS.name, 0, offset)
        ).tables.items():
            if table in PREFILL:
                counts[table] += len(rows)
    total = sum(counts.values())
    return {table: counts[table] / total for table in PREFILL}


@dataclass
class Filled:
    """Rows put in each table so far (the next generate_series starts after them)."""

    rows: Counter[str]
    seconds: float = 0.0


async def grow(
    db: own_stack.Database, chain_id: int, split: Mapping[str, float], size: int, filled: Filled
) -> None:
    started = time.perf_counter()
    connection = await asyncpg.connect(db.migrator_url)
    try:
        for table, share in split.items():
            want = round(size * share)
            if want > filled.rows[table]:
                await connection.execute(_insert_sql(table), filled.rows[table] + 1, want, chain_id)
                filled.rows[table] = want
        users = min(MAX_USERS, size // ROWS_PER_USER)
        if users > filled.rows["users"]:
            await connection.execute(USERS_SQL, filled.rows["users"], users - 1)
            filled.rows["users"] = users
        for table in (*PREFILL, "users"):
            await connection.execute(f"VACUUM (ANALYZE) {table}")
    finally:
        await connection.close()
    filled.seconds += time.perf_counter() - started


async def _sizes(db: own_stack.Database) -> tuple[float, float]:
    """(database MiB, MiB of the prefilled tables' indexes)."""
    connection = await asyncpg.connect(db.migrator_url)
    try:
        database = await connection.fetchval("SELECT pg_database_size(current_database())")
        indexes = await connection.fetchval(
            "SELECT sum(pg_indexes_size(t::regclass)) FROM unnest($1::text[]) t", list(PREFILL)
        )
        return database / 2**20, indexes / 2**20
    finally:
        await connection.close()


@dataclass(frozen=True)
class Step:
    size: int
    fill_s: float
    run: writer_runs.WriterRun
    steady_eps: float
    database_mib: float
    index_mib: float


def table_sizes() -> list[Step]:
    steps: list[Step] = []
    with own_stack.bench_stack() as env:
        deployment = DeploymentRecord.model_validate_json(
            (stack_dir() / "deployment.json").read_text()
        )
        db = own_stack.fresh_database(env, "sizes")
        split = shares(deployment)
        filled = Filled(Counter())
        stream = mixed_stream.MixedStream(deployment).events(BATCH * len(SIZES))
        group = f"rbtc-db-writer-sizes-{secrets.token_hex(3)}"
        ends: dict[int, int] = {}
        for size in SIZES:
            before = filled.seconds
            asyncio.run(grow(db, deployment.chain_id, split, size, filled))
            batch = [
                (e.partition_key.encode(), e.to_json()) for e in itertools.islice(stream, BATCH)
            ]
            published = asyncio.run(own_stack.publish(env["KAFKA_BOOTSTRAP_SERVERS"], batch))
            for partition, end in published.ends().items():
                ends[partition] = max(ends.get(partition, 0), end)
            asyncio.run(own_stack.checkpoint(env["POSTGRES_ADMIN_URL"]))
            run = writer_runs.run_writer(env, db, ends, 1, group=group)
            database_mib, index_mib = asyncio.run(_sizes(db))
            steps.append(
                Step(
                    size,
                    filled.seconds - before,
                    run,
                    run.steady_per_s(sum(ends.values())),
                    database_mib,
                    index_mib,
                )
            )
    return steps


def size_lines(steps: Sequence[Step]) -> list[str]:
    out = [
        f"scaling by rows in the tables: {BATCH:,} new mixed events per step into one growing "
        "database, one writer, the same group throughout"
    ]
    for step in steps:
        eps = BATCH / step.run.seconds
        out.append(
            f"  {step.size:>11,} rows (filled in {step.fill_s:.0f}s): {eps:,.0f} events/s "
            f"from start, {step.steady_eps:,.0f} after the first batch; writer CPU "
            f"{step.run.cpu_s:.1f}s, peak RSS {step.run.peak_rss_mib:.0f} MiB; database "
            f"{step.database_mib:,.0f} MiB, indexes of the big tables {step.index_mib:,.0f} MiB; "
            f"load {step.run.load:.2f}"
        )
    return out


def main() -> int:
    print(
        f"command: BENCH_SCALING_EVENTS={INSTANCE_EVENTS} "
        f"BENCH_SCALING_WRITERS={','.join(map(str, INSTANCES))} "
        f"BENCH_SCALING_SIZES={','.join(map(str, SIZES))} BENCH_SCALING_BATCH={BATCH} "
        ".venv/bin/python -m bench scaling"
    )
    if INSTANCES:
        print(f"scaling by instances ({os.cpu_count()} cores, Postgres and Kafka on the same):")
        for line in sink.lines(sink.run(INSTANCE_EVENTS, INSTANCES), INSTANCES):
            print(line)
    if SIZES:
        for line in size_lines(table_sizes()):
            print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
