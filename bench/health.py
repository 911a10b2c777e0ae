"""How fast the health score answers with millions of rows in the tables.

A fresh database on the benchmark's own stack (`.stack-bench/`, see `bench.own_stack`) is filled by
`generate_series` SQL as the migrator role: BENCH_HEALTH_ROWS transactions (default 2,000,000),
half as many oracle operations, 200,000 users, 20,000 emergency burns, YieldScales
participants, the six system contracts, and the `sink_counters` rows that the db-writer would
have written with them. The health service runs as its own process over it; then:

- `GET /v1/health` latency, one client in a row and eight at once;
- the database side of one evaluation (`DatabaseReader.read`, the part that could grow with
  the tables), and whole evaluation cycles as the service logs them;
- for comparison, one `count(*)` over the transactions table, which the score never runs;
- the restart: BENCH_HEALTH_EVENTS mixed chain events (default 300,000; `bench.mixed_stream`)
  are on the chain topic before the service starts; it does not read them (its world is the
  chain and the oracle, checkpointed in Postgres, and the database's digests), so the seconds
  from its start to its first ready report, and its peak memory, should not depend on them.

Target (SPEC section 6, issue 7): the score endpoint well under 100 ms.

`make bench` runs it with the others; `BENCH_HEALTH_ROWS=N .venv/bin/python -m bench.health`
runs it alone.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg
import httpx
from devstack import procs, services
from devstack.deploy import DeploymentRecord
from devstack.paths import log_dir, stack_dir
from health_monitor.database import DatabaseReader

from bench import mixed_stream, own_stack, writer_runs

ROWS = int(os.environ.get("BENCH_HEALTH_ROWS", "2000000"))
EVENTS = int(os.environ.get("BENCH_HEALTH_EVENTS", "300000"))
USERS = 200_000
BURNS = 20_000
REQUESTS = 2000
CLIENTS = 8
PREFIX = "benchhealth"
TARGET_MS = 100.0
CHAIN = "rbtc.chain.events.v1"
OPERATIONS = "rbtc.oracle.operations.v1"

FILL = """
INSERT INTO users (address, first_seen_source, first_seen_block, first_seen_at, seen_on_chain,
    src_topic, src_partition, src_offset)
SELECT '0x' || lpad(to_hex(i), 40, '0'), 'chain', i, now(), true, '{chain}', i % 12, i
FROM generate_series(1, {users}) AS i;

INSERT INTO transactions (chain_id, tx_hash, log_index, block_number, block_hash,
    block_timestamp, user_address, tx_type, amount, unit, balance_after_sats, fee_wei, contract,
    event, src_topic, src_partition, src_offset)
SELECT 31337, '0x' || lpad(to_hex(i), 64, '0'), 0, i / 10, '0x' || lpad(to_hex(i / 10), 64, 'f'),
       now() - (i || ' seconds')::interval, '0x' || lpad(to_hex(1 + i % {users}), 40, '0'),
       CASE WHEN i % 5 = 0 THEN 'BURN' ELSE 'MINT' END, 1000 + i % 997, 'sats', i % 100000,
       1000000000000000, 'OracleAggregator', 'Synced', '{chain}', i % 12, i
FROM generate_series(1, {rows}) AS i;

INSERT INTO oracle_operations_log (operation_id, action, user_address, amount_sats,
    consensus_reached, sources_used, status, occurred_at, oracle_id, src_topic, src_partition,
    src_offset)
SELECT 'op-' || i, 'SYNC', '0x' || lpad(to_hex(1 + i % {users}), 40, '0'), i % 100000, true,
       ARRAY['mempool.space'], 'success', now() - (i || ' seconds')::interval, 'oracle-1',
       '{operations}', i % 12, i
FROM generate_series(1, {operations_count}) AS i;

INSERT INTO emergency_burns (burn_key, user_address, burned_sats, reason, occurred_at,
    seen_on_chain, src_topic, src_partition, src_offset)
SELECT 'offchain:' || i, '0x' || lpad(to_hex(1 + i % {users}), 40, '0'), i, 'Insufficient fees',
       now(), true, '{chain}', i % 12, i
FROM generate_series(1, {burns}) AS i;

INSERT INTO yield_scales_participants (user_address, participant_type, amount, active,
    joined_at, last_block, last_log_index)
SELECT '0x' || lpad(to_hex(i), 40, '0'), i % 2, 1000, i % 3 > 0, now(), i, 0
FROM generate_series(1, 5000) AS i;

INSERT INTO sink_counters (table_name, src_topic, src_partition, row_count)
SELECT 'users', src_topic, src_partition, count(*) FROM users GROUP BY 2, 3
UNION ALL
SELECT 'transactions', src_topic, src_partition, count(*) FROM transactions GROUP BY 2, 3
UNION ALL
SELECT 'oracle_operations_log', src_topic, src_partition, count(*) FROM oracle_operations_log
GROUP BY 2, 3
UNION ALL
SELECT 'emergency_burns', src_topic, src_partition, count(*) FROM emergency_burns GROUP BY 2, 3;
"""


async def fill(url: str, deployment: DeploymentRecord) -> float:
    started = time.perf_counter()
    connection = await asyncpg.connect(url)
    try:
        await connection.execute(
            FILL.format(
                chain=CHAIN,
                operations=OPERATIONS,
                users=USERS,
                rows=ROWS,
                operations_count=ROWS // 2,
                burns=BURNS,
            )
        )
        await connection.executemany(
            "INSERT INTO system_contracts (chain_id, name, address, deployed_block, "
            "code_present, observed_at, src_topic, src_partition, src_offset) "
            "VALUES ($1, $2, $3, $4, true, now(), 'rbtc.registry.v1', 0, $5)",
            [
                (deployment.chain_id, name.value, c.address, c.deployed_block, i)
                for i, (name, c) in enumerate(deployment.contracts.items())
            ],
        )
        await connection.execute("VACUUM ANALYZE")
    finally:
        await connection.close()
    return time.perf_counter() - started


async def database_side(health_url: str, chain_id: int, times: int = 200) -> list[float]:
    reader = await DatabaseReader.connect(health_url, 2)
    try:
        await reader.read(chain_id)
        spent = []
        for _ in range(times):
            started = time.perf_counter()
            await reader.read(chain_id)
            spent.append(1000 * (time.perf_counter() - started))
        return spent
    finally:
        await reader.close()


async def full_count(url: str) -> tuple[int, float]:
    connection = await asyncpg.connect(url)
    try:
        started = time.perf_counter()
        count = int(await connection.fetchval("SELECT count(*) FROM transactions"))
        return count, 1000 * (time.perf_counter() - started)
    finally:
        await connection.close()


def wait_ready(url: str, within_s: float = 120) -> dict[str, object]:
    deadline = time.monotonic() + within_s
    with httpx.Client(timeout=10) as client:
        while time.monotonic() < deadline:
            response = client.get(f"{url}/v1/health")
            if response.status_code == 200 and response.json()["sources_ready"]:
                answer: dict[str, object] = response.json()
                return answer
            time.sleep(0.5)
    raise RuntimeError(f"the health service at {url} never became ready")


def latencies(url: str, requests: int) -> list[float]:
    spent = []
    with httpx.Client(timeout=10) as client:
        for _ in range(requests):
            started = time.perf_counter()
            response = client.get(f"{url}/v1/health")
            spent.append(1000 * (time.perf_counter() - started))
            response.raise_for_status()
    return spent


def concurrent_latencies(url: str, clients: int, each: int) -> list[float]:
    results: list[list[float]] = [[] for _ in range(clients)]
    threads = [
        threading.Thread(target=lambda i=i: results[i].extend(latencies(url, each)))
        for i in range(clients)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [ms for result in results for ms in result]


def cycles_logged(process: str) -> list[float]:
    spent = []
    for line in (log_dir() / f"{process}.log").read_text().splitlines():
        if line.startswith("{") and '"msg": "health"' in line:
            spent.append(float(json.loads(line)["cycle_ms"]))
    return spent


def percentiles(values: Sequence[float]) -> str:
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
    return (
        f"p50 {statistics.median(ordered):.1f} ms, p99 {p99:.1f} ms, max {ordered[-1]:.1f} ms "
        f"(n={len(ordered)})"
    )


@dataclass(frozen=True)
class WarmUp:
    events: int
    seconds: float
    peak_rss_mib: float

    @property
    def events_per_s(self) -> float:
        return self.events / self.seconds


@dataclass(frozen=True)
class Figures:
    rows: int
    fill_s: float
    warm_up: WarmUp
    sequential: list[float]
    concurrent: list[float]
    reads: list[float]
    cycles: list[float]
    count_ms: float
    total_s: float


def run() -> Figures:
    started = time.perf_counter()
    with own_stack.bench_stack() as env:
        deployment = DeploymentRecord.model_validate_json(
            (stack_dir() / "deployment.json").read_text()
        )
        db = own_stack.fresh_database(env, "health")
        health_db = env["HEALTH_DATABASE_URL"].rsplit("/", 1)[0] + f"/{db.name}"
        fill_s = asyncio.run(fill(db.migrator_url, deployment))
        records = mixed_stream.serialised(deployment, EVENTS)
        asyncio.run(own_stack.publish(env["KAFKA_BOOTSTRAP_SERVERS"], records))
        try:
            starting = time.perf_counter()
            urls = services.start(
                ["health"],
                {"DATABASE_URL": health_db, "HEALTH_INTERVAL_S": "1"},
                stack=env,
                prefix=PREFIX,
            )
            url = urls["HEALTH_URL"]
            wait_ready(url, within_s=120 + EVENTS / 5_000)
            pid = procs.running_pid(f"{PREFIX}-health")
            assert pid is not None, "the health service exited"
            warm_up = WarmUp(
                len(records), time.perf_counter() - starting, writer_runs.peak_rss_mib(pid)
            )
            sequential = latencies(url, REQUESTS)
            concurrent = concurrent_latencies(url, CLIENTS, REQUESTS // CLIENTS)
            reads = asyncio.run(database_side(health_db, deployment.chain_id))
            counted, count_ms = asyncio.run(full_count(db.migrator_url))
            cycles = cycles_logged(f"{PREFIX}-health")
        finally:
            services.stop(["health"], prefix=PREFIX)
    return Figures(
        counted,
        fill_s,
        warm_up,
        sequential,
        concurrent,
        reads,
        cycles,
        count_ms,
        time.perf_counter() - started,
    )


def lines(figures: Figures) -> list[str]:
    p99 = sorted(figures.sequential)[int(0.99 * len(figures.sequential))]
    return [
        f"health: {figures.rows:,} transactions, {figures.rows // 2:,} oracle operations, "
        f"{USERS:,} users, {BURNS:,} burns (filled in {figures.fill_s:.0f}s)",
        f"  restart: ready {figures.warm_up.seconds:.1f}s after the process start with "
        f"{figures.warm_up.events:,} chain events on the topic, peak RSS "
        f"{figures.warm_up.peak_rss_mib:.0f} MiB",
        f"  GET /v1/health, 1 client:  {percentiles(figures.sequential)}",
        f"  GET /v1/health, {CLIENTS} clients: {percentiles(figures.concurrent)}",
        f"  database side of an evaluation: {percentiles(figures.reads)}",
        f"  whole evaluation cycles (service log): {percentiles(figures.cycles)}",
        f"  for comparison, SELECT count(*) FROM transactions: {figures.count_ms:.0f} ms",
        f"  target: p99 well under {TARGET_MS:.0f} ms: {'met' if p99 < TARGET_MS else 'NOT met'}",
        f"  whole benchmark {figures.total_s:.0f}s",
    ]


def main() -> None:
    print("command: BENCH_HEALTH_ROWS=N BENCH_HEALTH_EVENTS=M .venv/bin/python -m bench.health")
    for line in lines(run()):
        print(line)


if __name__ == "__main__":
    main()
