"""Latency and throughput of the realtime API under a steady request rate, per endpoint.

A PostgreSQL of its own (`.stack-bench-api/`, kept between runs with `BENCH_API_KEEP=1` so the
fill is paid once) holds `BENCH_API_USERS` users and 50 transactions each (100k and 5M by
default, see `bench.api_dataset`). The API runs as a real process (`python -m realtime_api`,
one uvicorn worker, access log on, the rate limiter on but set above the offered rate), and an
open-loop generator sends `BENCH_API_RATE` requests per second (default 500) for
`BENCH_API_SECONDS` (default 30, after 5 s of warm-up) across the endpoints, for random users.
Meanwhile the db-writer's stored offsets move every half second, as under a live writer, so
the snapshots rebuild during the measurement: the aggregates at their default cadence (2 s),
the reserves Merkle tree every 15 s (`RESERVES_EVERY_S`; its default is 60 s).

Open loop: request i is due at t0 + i/rate whether or not earlier ones have answered, and its
latency counts from when it was due, so a stalled server (or generator) shows up in the figures
instead of quietly lowering the rate (no coordinated omission).

`BENCH_API_RATE=500 .venv/bin/python -m bench.api` runs it alone; `make bench` runs it too.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import re
import resource
import secrets
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import asyncpg
from devstack import database, postgres, procs
from devstack.paths import log_dir, run_dir, stack_dir_at
from pydantic import SecretStr
from reservesync.crypto import FieldCipher
from reservesync.db.migrate import upgrade
from reservesync.settings import EncryptionSettings

from bench import api_dataset, machine, stack_claimed

USERS = int(os.environ.get("BENCH_API_USERS", "100000"))
RATE = float(os.environ.get("BENCH_API_RATE", "500"))
SECONDS = float(os.environ.get("BENCH_API_SECONDS", "30"))
WARMUP_S = 5.0
KEEP = os.environ.get("BENCH_API_KEEP") == "1"
STACK_DIR = Path(__file__).resolve().parent.parent / ".stack-bench-api"
PROCESS = "bench-api"
TARGET_P99_MS = 20.0
RESERVES_EVERY_S = float(os.environ.get("BENCH_API_RESERVES_EVERY_S", "15"))
CHURN_EVERY_S = 0.5
# (weight, label, path, what the query string needs)
MIX = (
    (20, "balances", "/balances", "address"),
    (20, "transactions", "/transactions", "page"),
    (15, "sync-status", "/sync-status", "address"),
    (10, "yield-status", "/yield-status", "address"),
    (4, "emergency-burns (user)", "/emergency-burns", "address"),
    (4, "emergency-burns (all)", "/emergency-burns", ""),
    (4, "disputes (user)", "/disputes", "address"),
    (3, "disputes (all)", "/disputes", ""),
    (5, "proof-of-reserves", "/proof-of-reserves", ""),
    (8, "proof-of-reserves/proof", "/proof-of-reserves/proof", "address"),
    (7, "bitcoin-addresses", "/bitcoin-addresses", "address"),
)


@dataclass(frozen=True)
class Sample:
    label: str
    status: int
    scheduled_ms: float
    """From when the request was due to its last byte."""
    wire_ms: float
    """From when it was actually sent to its last byte."""


@contextlib.contextmanager
def bench_database() -> Iterator[tuple[dict[str, str], str]]:
    """(role -> URL, field key) of the benchmark's own server; stopped at the end, and wiped
    unless BENCH_API_KEEP=1."""
    with stack_claimed(STACK_DIR), stack_dir_at(STACK_DIR):
        try:
            secrets_file = run_dir() / "bench-api.json"
            if not secrets_file.exists():
                stored = {role: secrets.token_urlsafe(18) for role in ("admin", *database.ROLES)}
                stored["field_key"] = secrets.token_hex(32)
                secrets_file.write_text(json.dumps(stored))
            stored = json.loads(secrets_file.read_text())
            port = procs.free_port(25432)
            admin = postgres.up(port, stored["admin"])
            asyncio.run(database.provision(admin, {r: stored[r] for r in database.ROLES}))
            urls = {r: database.url(r, stored[r], port) for r in database.ROLES}
            urls["admin"] = admin
            upgrade(urls["rs_migrator"])
            yield urls, stored["field_key"]
        finally:
            procs.stop(PROCESS)
            postgres.down()
            if not KEEP:
                postgres.wipe()
                (run_dir() / "bench-api.json").unlink(missing_ok=True)


def start_api(database_url: str, field_key: str) -> tuple[str, int]:
    port = procs.free_port(18183)
    env = {
        "DATABASE_URL": database_url,
        "FIELD_ENCRYPTION_KEY": field_key,
        "HTTP_PORT": str(port),
        # On, so its cost is measured, but above the offered rate of this one client.
        "API_RATE_LIMIT_PER_S": str(RATE * 20),
        "API_RATE_LIMIT_BURST": str(int(RATE * 20)),
        "API_RESERVES_MIN_INTERVAL_S": f"{RESERVES_EVERY_S:g}",
    }
    pid = procs.start(PROCESS, [sys.executable, "-m", "realtime_api"], env=env)
    url = f"http://127.0.0.1:{port}"
    procs.wait_for("the API", lambda: _ready(url), 180, PROCESS)
    return url, pid


def _ready(url: str) -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(f"{url}/readyz", timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def _stat(pid: int) -> list[str]:
    """Fields of /proc/<pid>/stat after the command name (field 3, state, comes first)."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def _cpu_s(pid: int) -> float:
    fields = _stat(pid)
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _tree_cpu_s(root: int) -> float:
    """CPU of a process and all its descendants (uvicorn workers, the tree hasher)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                parents[int(entry.name)] = int(_stat(int(entry.name))[1])
    tree, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent]
        tree.update(children)
        frontier.extend(children)
    total = 0.0
    for pid in tree:
        with contextlib.suppress(OSError):
            total += _cpu_s(pid)
    return total


async def _backend_cpu(admin_url: str) -> dict[int, float]:
    """CPU seconds so far of each PostgreSQL backend serving the API (role rs_api)."""
    connection = await asyncpg.connect(admin_url)
    try:
        rows = await connection.fetch("SELECT pid FROM pg_stat_activity WHERE usename = 'rs_api'")
    finally:
        await connection.close()
    return {r["pid"]: _cpu_s(r["pid"]) for r in rows}


def _own_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _request(rng: random.Random) -> tuple[str, str, dict[str, str]]:
    _, label, path, needs = rng.choices(MIX, weights=[w for w, *_ in MIX])[0]
    params: dict[str, str] = {}
    if needs in ("address", "page"):
        params["address"] = api_dataset.user_address(rng.randint(1, USERS))
    if needs == "page":
        params["offset"] = str(rng.choice((0, 0, 0, 25)))
    return label, f"/api/realtime{path}", params


async def churn(migrator_url: str) -> None:
    """What the snapshots' change detector sees of a live db-writer: its offsets moving."""
    connection = await asyncpg.connect(migrator_url)
    try:
        while True:
            await connection.execute(
                "UPDATE sink_offsets SET next_offset = next_offset + 1, updated_at = now()"
            )
            await asyncio.sleep(CHURN_EVERY_S)
    finally:
        await connection.close()


async def load(url: str, migrator_url: str) -> tuple[list[Sample], float]:
    """Open loop at RATE for WARMUP_S + SECONDS, with the writer's offsets moving; returns the
    samples after the warm-up and the measured window's length."""
    writer = asyncio.create_task(churn(migrator_url))
    loop = asyncio.get_running_loop()
    rng = random.Random(7)
    total = int(RATE * (WARMUP_S + SECONDS))
    connector = aiohttp.TCPConnector(limit=512)
    samples: list[Sample] = []
    async with aiohttp.ClientSession(url, connector=connector) as session:

        async def one(label: str, path: str, params: dict[str, str], due: float) -> None:
            sent = loop.time()
            async with session.get(path, params=params) as response:
                await response.read()
            done = loop.time()
            if due >= start + WARMUP_S:
                samples.append(
                    Sample(label, response.status, (done - due) * 1000, (done - sent) * 1000)
                )

        start = loop.time() + 0.5
        tasks = []
        for i in range(total):
            due = start + i / RATE
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(*_request(rng), due)))
        await asyncio.gather(*tasks)
        window = loop.time() - (start + WARMUP_S)
    writer.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await writer
    return samples, window


def _rebuilds(url: str) -> dict[str, int]:
    """Snapshot rebuilds per part so far, from the API's own metrics."""
    import urllib.request

    with urllib.request.urlopen(f"{url}/metrics", timeout=5) as response:
        text = response.read().decode()
    found = re.findall(r'api_snapshot_build_seconds_count\{part="(\w+)"\} ([0-9.]+)', text)
    return {part: int(float(count)) for part, count in found}


def _percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=1000, method="inclusive")[int(q * 10) - 1]


@dataclass(frozen=True)
class CpuUse:
    """CPU seconds over the whole load (warm-up included) of each party."""

    api_s: float
    postgres_s: float
    generator_s: float


@dataclass(frozen=True)
class Figures:
    samples: list[Sample]
    window_s: float
    cpu: CpuUse
    rebuilds: dict[str, int]
    fill_s: float
    load_before: tuple[float, float, float]
    load_after: tuple[float, float, float]
    total_s: float
    log: str


def run() -> Figures:
    started = time.perf_counter()
    with bench_database() as (urls, field_key):
        if asyncio.run(api_dataset.filled(urls["rs_migrator"], USERS)):
            print(f"api: reusing the filled database ({USERS:,} users) in {STACK_DIR}")
            fill_s = 0.0
        else:
            print(f"api: filling {USERS:,} users, {USERS * api_dataset.TX_PER_USER:,} transactions")
            cipher = FieldCipher.from_settings(
                EncryptionSettings(field_encryption_key=SecretStr(field_key))
            )
            t0 = time.perf_counter()
            asyncio.run(api_dataset.fill(urls["rs_migrator"], USERS, cipher, print))
            fill_s = time.perf_counter() - t0
        url, pid = start_api(urls["rs_api"], field_key)
        load_before = os.getloadavg()
        cpu_before = (_tree_cpu_s(pid), asyncio.run(_backend_cpu(urls["admin"])), _own_cpu_s())
        samples, window = asyncio.run(load(url, urls["rs_migrator"]))
        rebuilds = _rebuilds(url)
        backends = asyncio.run(_backend_cpu(urls["admin"]))
        cpu = CpuUse(
            api_s=_tree_cpu_s(pid) - cpu_before[0],
            postgres_s=sum(t - cpu_before[1].get(p, 0.0) for p, t in backends.items()),
            generator_s=_own_cpu_s() - cpu_before[2],
        )
        load_after = os.getloadavg()
        log = str(log_dir() / f"{PROCESS}.log")
    return Figures(
        samples,
        window,
        cpu,
        rebuilds,
        fill_s,
        load_before,
        load_after,
        time.perf_counter() - started,
        log,
    )


def lines(figures: Figures) -> list[str]:
    samples, window = figures.samples, figures.window_s
    by_label: dict[str, list[Sample]] = defaultdict(list)
    for sample in samples:
        by_label[sample.label].append(sample)
    out = [
        f"api: {USERS:,} users, {USERS * api_dataset.TX_PER_USER:,} transactions; open loop at "
        f"{RATE:.0f} req/s for {SECONDS:.0f}s after {WARMUP_S:.0f}s warm-up, one API process",
        f"  load average (1, 5, 15 min) before {figures.load_before}, after {figures.load_after} "
        "(2 cores shared with the generator, PostgreSQL and other work on the machine)",
        f"  {'endpoint':<26}{'n':>6}{'req/s':>8}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}"
        f"{'p99 wire':>10}{'errors':>8}",
    ]
    rows = [("all", samples), *sorted(by_label.items())]
    for label, group in rows:
        due = [s.scheduled_ms for s in group]
        wire = [s.wire_ms for s in group]
        errors = sum(s.status not in (200, 404) for s in group)
        out.append(
            f"  {label:<26}{len(group):>6}{len(group) / window:>8.1f}"
            f"{_percentile(due, 50):>9.2f}{_percentile(due, 99):>9.2f}{max(due):>9.1f}"
            f"{_percentile(wire, 99):>10.2f}{errors:>8}"
        )
    p99 = _percentile([s.scheduled_ms for s in samples], 99)
    cpu, elapsed = figures.cpu, WARMUP_S + window
    requests = int(RATE * elapsed)
    out += [
        f"  snapshot rebuilds during the run (first builds included): "
        f"{', '.join(f'{part} {n}' for part, n in sorted(figures.rebuilds.items()))}",
        f"  CPU per request (whole load, {requests:,} requests): API process "
        f"{1000 * cpu.api_s / requests:.2f} ms ({100 * cpu.api_s / elapsed:.0f}% of a core), "
        f"PostgreSQL backends {1000 * cpu.postgres_s / requests:.2f} ms "
        f"({100 * cpu.postgres_s / elapsed:.0f}%), load generator "
        f"{1000 * cpu.generator_s / requests:.2f} ms ({100 * cpu.generator_s / elapsed:.0f}%)",
        f"  p99 {p99:.2f} ms (target < {TARGET_P99_MS:.0f} ms at {RATE:.0f} req/s: "
        f"{'met' if p99 < TARGET_P99_MS else 'NOT met'}); fill {figures.fill_s:.0f}s, "
        f"whole benchmark {figures.total_s:.0f}s; API log {figures.log}",
    ]
    return out


def main() -> int:
    print(machine.describe())
    print(
        f"command: BENCH_API_USERS={USERS} BENCH_API_RATE={RATE:.0f} "
        f"BENCH_API_SECONDS={SECONDS:.0f} .venv/bin/python -m bench.api"
    )
    for line in lines(run()):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
