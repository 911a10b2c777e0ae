"""The backfill of `bench.backfill` through Ponder (npm, `bench/ponder/`), for a side-by-side
indexer figure.

The same private Hardhat node (chain id 31339) gets BENCH_PONDER_EVENTS FeeVault Deposited
events (default 100,000) from BatchDepositor transactions. Ponder (`ponder start`, never `dev`)
indexes them from the first block of the load to its last (its `endBlock`) into a PostgreSQL of
the benchmark's own (`.stack-bench-ponder/`, a new cluster each invocation, wiped afterwards;
the developer's `.stack/` is never touched): one row per event in `bench.deposit`, keyed by
Ponder's event id. Timed from the process's start until `/ready` answers 200; then the table
must hold exactly one row per event. Each of BENCH_PONDER_RUNS runs (default 1) gets a database
of its own and Ponder's RPC cache is off, so no run is served from an earlier one's answers.

The first run installs `bench/ponder/node_modules` (`npm ci`, ~230 MB, needs the npm
registry), so `make bench` leaves it out: `.venv/bin/python -m bench ponder` runs it. Ponder
0.16 is the last line that runs on Node 20 (0.17 wants Node 22); its package.json pins
`@whatwg-node/promise-helpers` to 1.3.2 because graphql-yoga's newest graphql-tools pull in
2.x, which declares Node >= 22.15 (1.3.2 exports all that 2.x does).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
from devstack import postgres, procs
from devstack.paths import stack_dir_at
from reservesync.contracts import SystemContract

from bench import machine, own_stack, process_cpu, stack_claimed, writer_runs
from bench.private_chain import (
    BACKFILL_CHAIN_ID,
    PrivateChain,
    compile_with_test_contracts,
    load_deposits,
    private_chain,
)

COUNT = int(os.environ.get("BENCH_PONDER_EVENTS", "100000"))
RUNS = int(os.environ.get("BENCH_PONDER_RUNS", "1"))
PROJECT = Path(__file__).resolve().parent / "ponder"
STACK_DIR = PROJECT.parent.parent / ".stack-bench-ponder"
PROCESS = "bench-ponder"
NODE = "bench-ponder-hardhat"
SCHEMA = "bench"
FINALITY_BLOCKS = 30
"""Ponder's finality depth for a chain it does not know: it indexes the newest 30 blocks
through its realtime path, block by block, so empty blocks on top make the load a backfill."""
POLL_S = 0.05
WITHIN_S = 1800.0


@dataclass(frozen=True)
class Run:
    serving_s: float
    """From the process's start until its HTTP server answered (config and schema built)."""
    ready_s: float
    """From the process's start until `/ready` answered 200 (historical indexing done)."""
    rows: int
    cpu_s: float
    """Of the Ponder process until ready: on shared cores it moves less than the seconds do."""
    node_cpu_s: float
    """Of the Hardhat node meanwhile, answering Ponder's requests."""
    peak_rss_mib: float
    load: float


def main() -> None:
    """Print the figures of BENCH_PONDER_RUNS runs, and the command that produced them."""
    install()
    with tempfile.TemporaryDirectory() as build, _postgres() as admin_url:
        contracts = compile_with_test_contracts(Path(build))
        with private_chain(contracts, NODE, BACKFILL_CHAIN_ID) as node:
            first, last, events = load_deposits(node, contracts, COUNT)
            node.mine(FINALITY_BLOCKS)
            chain = _chain_env(node, first, last)
            runs = [_run(admin_url, chain, events, f"ponder_{n}") for n in range(RUNS)]
    for line in lines(runs, events, last - first + 1):
        print(line)


def install() -> None:
    """`npm ci` from the lock file, once: node_modules is kept (and gitignored)."""
    if (PROJECT / "node_modules").is_dir():
        return
    print(f"ponder: npm ci in {PROJECT} (first run only) ...", flush=True)
    subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=PROJECT, check=True)


@contextlib.contextmanager
def _postgres() -> Iterator[str]:
    """Admin URL of a new cluster in `.stack-bench-ponder/`; stopped and wiped at the end.
    The stack directory is patched for the whole run, so the Hardhat node's and Ponder's logs
    land there too."""
    with stack_claimed(STACK_DIR), stack_dir_at(STACK_DIR):
        postgres.down()  # what an interrupted run left behind
        postgres.wipe()
        try:
            yield postgres.up(procs.free_port(35432), secrets.token_urlsafe(18))
        finally:
            procs.stop(PROCESS)
            postgres.down()
            postgres.wipe()


def _chain_env(node: PrivateChain, first: int, last: int) -> dict[str, str]:
    """What `bench/ponder/ponder.config.ts` reads: the chain and the range to index."""
    return {
        "PONDER_RPC_URL": node.rpc_url,
        "PONDER_CHAIN_ID": str(node.deployment.chain_id),
        "PONDER_FEE_VAULT": node.deployment.contracts[SystemContract.FEE_VAULT].address,
        "PONDER_START_BLOCK": str(first),
        "PONDER_END_BLOCK": str(last),
        "PONDER_TELEMETRY_DISABLED": "true",
    }


def _run(admin_url: str, chain: dict[str, str], events: int, database: str) -> Run:
    url = asyncio.run(_fresh_database(admin_url, database))
    port = procs.free_port(42069)
    argv = ["node_modules/.bin/ponder", "start", "--schema", SCHEMA, "--port", str(port)]
    node_pid = procs.running_pid(NODE)
    assert node_pid is not None, "the Hardhat node is gone"
    node_cpu_before = process_cpu.cpu_seconds(node_pid)
    started = time.perf_counter()
    pid = procs.start(PROCESS, argv, cwd=PROJECT, env={**chain, "DATABASE_URL": url})
    try:
        serving_s = _until(lambda: _status(port, "/health") == 200, started, pid)
        ready_s = _until(lambda: _status(port, "/ready") == 200, started, pid)
        cpu_s = process_cpu.cpu_seconds(pid)
        node_cpu_s = process_cpu.cpu_seconds(node_pid) - node_cpu_before
        rows = asyncio.run(_rows(url))
        peak = writer_runs.peak_rss_mib(pid)  # VmHWM: the kernel keeps the peak, one read suffices
    finally:
        procs.stop(PROCESS)
    if rows != events:
        raise RuntimeError(f"Ponder was ready with {rows:,} rows for {events:,} events")
    return Run(serving_s, ready_s, rows, cpu_s, node_cpu_s, peak, os.getloadavg()[0])


async def _fresh_database(admin_url: str, name: str) -> str:
    connection = await asyncpg.connect(admin_url)
    try:
        await connection.execute(f"CREATE DATABASE {name}")  # name is ours: ponder_<n>
    finally:
        await connection.close()
    return admin_url.rsplit("/", 1)[0] + f"/{name}"


def _until(done: Callable[[], bool], started: float, pid: int) -> float:
    """Seconds since `started` when `done()` first held; fails if Ponder exits or stalls."""
    while not done():
        if _exited(pid):
            raise RuntimeError(f"Ponder exited:\n{own_stack.log_tail(PROCESS, 30)}")
        if time.perf_counter() - started > WITHIN_S:
            raise RuntimeError(
                f"Ponder not ready in {WITHIN_S:.0f}s:\n{own_stack.log_tail(PROCESS)}"
            )
        time.sleep(POLL_S)
    return time.perf_counter() - started


def _exited(pid: int) -> bool:
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:  # already reaped
        return True
    return done == pid


def _status(port: int, path: str) -> int | None:
    try:
        return httpx.get(f"http://127.0.0.1:{port}{path}", timeout=2).status_code
    except httpx.TransportError:
        return None


async def _rows(url: str) -> int:
    connection = await asyncpg.connect(url)
    try:
        return int(await connection.fetchval(f"SELECT count(DISTINCT id) FROM {SCHEMA}.deposit"))
    finally:
        await connection.close()


def versions() -> dict[str, str]:
    """The installed ponder and viem, and the node that runs them."""
    installed = {
        name: json.loads((PROJECT / "node_modules" / name / "package.json").read_text())["version"]
        for name in ("ponder", "viem")
    }
    node = subprocess.run(["node", "--version"], capture_output=True, text=True, check=True)
    return {**installed, "node": node.stdout.strip().lstrip("v")}


def lines(runs: list[Run], events: int, blocks: int) -> list[str]:
    used = ", ".join(f"{name} {version}" for name, version in versions().items())
    out = [
        machine.describe(),
        f"ponder: {events:,} FeeVault Deposited events in {blocks} blocks from a local Hardhat "
        f"node into PostgreSQL, one row per event ({used}; `ponder start`, RPC cache off, "
        f"a fresh database per run, endBlock = the last loaded block, {FINALITY_BLOCKS} empty "
        "blocks above it)",
    ]
    for n, run in enumerate(runs, 1):
        indexing_s = run.ready_s - run.serving_s
        out.append(
            f"  run {n}: start -> /ready {run.ready_s:.2f}s = {events / run.ready_s:,.0f} "
            f"events/s; without the start-up ({run.serving_s:.2f}s until its server answered) "
            f"{indexing_s:.2f}s = {events / indexing_s:,.0f} events/s; {run.rows:,} rows; "
            f"{run.cpu_s:.1f} CPU s and peak RSS {run.peak_rss_mib:.0f} MiB of Ponder's node "
            f"process, {run.node_cpu_s:.1f} CPU s of the Hardhat node; load {run.load:.2f}"
        )
    out.append(
        f"  command: BENCH_PONDER_EVENTS={COUNT} BENCH_PONDER_RUNS={RUNS} "
        ".venv/bin/python -m bench ponder"
    )
    return out


if __name__ == "__main__":
    main()
