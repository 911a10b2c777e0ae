"""The whole pipeline over a long chain: chain -> Kafka -> Postgres -> health -> API, with each
service's memory sampled as the events flow (issue #21, goal 5: 10M events, memory flat).

BENCH_E2E_EVENTS FeeVault `Deposited` events are mined onto a private Hardhat node first
(`bench.private_chain.load_deposits`, 800 a transaction, one transaction a block), so the
pipeline is timed on its own and not paced by the node's mining. Then the real services start
as processes on the benchmark's own stack (`.stack-bench/`): the chain-listener backfills the
node from the contracts' deployment (no confirmations, so its last block is published too),
the db-writer sinks the topic into the stack's database, health reads the same node, Kafka and
database and scores them, the API serves the rows. No oracle runs: nothing here needs one.

Every BENCH_E2E_SAMPLE_S the benchmark takes each service's RSS (its whole process group, from
`/proc`), the chain topic's end offsets (records plus one commit marker per partition and
listener transaction) and the rows committed (`sink_counters`, the writer's own tally, which a
`count(*)` checks at the end); every PROBE_EVERY_S it asks health's `/v1/health` and the API's
balances and transactions of a user, so their answers under load are measured too. It ends
when every event is a committed row and health has read the chain through its last block.

`python -m bench end-to-end` (BENCH_E2E_EVENTS=10000000, BENCH_E2E_SAMPLE_S=2,
BENCH_E2E_NODE_MAX_MIB = half the machine's memory: the node's RSS the run stops at); not in
`make bench`: at the default size loading takes ~25 minutes and the pipeline as long again, and
Hardhat holds the whole chain in memory (about 1 GB per million events).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition
from devstack import procs, services
from reservesync import kafka
from reservesync.db.migrate import upgrade
from reservesync.settings import KafkaSettings
from reservesync.topics import CHAIN_EVENTS

from bench import own_stack, rss, service_metrics
from bench.end_to_end_figures import (
    PIPELINE,
    Answer,
    Loaded,
    Point,
    Run,
    lines,
    load_now,
    progress_line,
)
from bench.private_chain import (
    PrivateChain,
    compile_with_test_contracts,
    load_deposits,
    private_chain,
)
from tests.chain_listener.support.chains import batch_user

COUNT = int(os.environ.get("BENCH_E2E_EVENTS", "10000000"))
SAMPLE_S = float(os.environ.get("BENCH_E2E_SAMPLE_S", "2"))
PROBE_EVERY_S = 10.0
PRINT_EVERY_S = 30.0
HEALTH_WITHIN_S = 600.0
"""After the last row: how long health may take to read the chain through its last block."""
CHAIN_ID = 31341
"""The private chain of this benchmark: its event ids never meet another chain's."""
PREFIX = "e2e"
NODE = "bench-e2e-hardhat"
NODE_MAX_MIB = float(
    os.environ.get(
        "BENCH_E2E_NODE_MAX_MIB", os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**21
    )
)
"""The node's memory the run stops at: by default half the machine's."""
USER_SEED = 1
"""load_deposits' users: the same 800 (`batch_user(1, i)`) in every transaction."""
API = "/api/realtime"


def _chain_overrides(node: PrivateChain) -> dict[str, str]:
    """What the listener and health both need to follow the private node (the stack's
    `CHAIN_WS_URL` is the stack's node, so no socket)."""
    return {
        **node.deployment.env(),
        "CHAIN_RPC_URL": node.rpc_url,
        "CHAIN_WS_URL": "",
        "CHAIN_CONFIRMATIONS": "0",
    }


def start_pipeline(env: Mapping[str, str], node: PrivateChain) -> dict[str, str]:
    """The four services in the order health needs them (it finds the producers' probes when it
    starts); returns their URLs."""
    upgrade(env["DATABASE_URL"])  # the stack's database, new with its world, gets the schema
    chain = _chain_overrides(node)
    services.start(["chain-listener"], chain, stack=env, prefix=PREFIX)
    services.start(["db-writer"], {}, stack=env, prefix=PREFIX)
    return {
        **services.start(["health"], chain, stack=env, prefix=PREFIX),
        **services.start(["api"], {}, stack=env, prefix=PREFIX),
    }


def node_rss_mib() -> float:
    return rss.group_rss_mib(procs.running_pid(NODE) or 0)


def within_memory(node_mib: float) -> float:
    """`node_mib`, the node's RSS, unless it is past NODE_MAX_MIB: then the run stops. Hardhat
    holds the whole chain in memory, and more whenever a sender stops asking for receipts
    (22.7 GB once, loading a 1M chain so), and a machine out of memory kills whatever it
    picks, other people's processes included."""
    if node_mib > NODE_MAX_MIB:
        raise procs.StackError(
            f"the Hardhat node holds {node_mib:,.0f} MiB, above BENCH_E2E_NODE_MAX_MIB="
            f"{NODE_MAX_MIB:,.0f}: stopped before the machine runs out of memory"
        )
    return node_mib


def leaders() -> dict[str, int]:
    """The running services' process ids (each its process group's leader), and the node's."""
    found = {name: procs.running_pid(services.SERVICES[name].process(PREFIX)) for name in PIPELINE}
    missing = [name for name, pid in found.items() if pid is None]
    if missing:
        tails = "\n".join(own_stack.log_tail(services.SERVICES[n].process(PREFIX)) for n in missing)
        raise procs.StackError(f"{', '.join(missing)} exited; last log lines:\n{tails}")
    node = procs.running_pid(NODE)
    return {**{n: p for n, p in found.items() if p is not None}, **({"node": node} if node else {})}


def published_block() -> int:
    try:
        found = service_metrics.samples("chain-listener", PREFIX)
    except procs.StackError:
        return 0  # not answering for a moment: not published yet, as far as we know
    published = (s.value for s in found if s.name == "chain_listener_published_block")
    return int(next(published, 0))


async def rows_committed(connection: asyncpg.Connection) -> int:
    """The writer's own tally of the transactions rows it inserted (kept in the same database
    transactions as the rows): a `count(*)` over 10M rows every 2 s would load Postgres."""
    total = await connection.fetchval(
        "SELECT coalesce(sum(row_count), 0) FROM sink_counters WHERE table_name = 'transactions'"
    )
    return int(total)


async def count_deposits(connection: asyncpg.Connection) -> int:
    found = await connection.fetchval(
        "SELECT count(*) FROM transactions WHERE chain_id = $1 AND event = 'Deposited'", CHAIN_ID
    )
    return int(found)


@contextlib.asynccontextmanager
async def end_offsets_reader(bootstrap: str) -> AsyncIterator[Callable[[], Awaitable[int]]]:
    """A function summing the chain topic's end offsets, over one consumer kept open."""
    consumer: AIOKafkaConsumer = kafka.consumer(
        KafkaSettings(kafka_bootstrap_servers=bootstrap), group_id=None
    )
    await consumer.start()
    partitions = [TopicPartition(CHAIN_EVENTS.name, p) for p in range(CHAIN_EVENTS.partitions)]

    async def total() -> int:
        return sum((await consumer.end_offsets(partitions)).values())

    try:
        yield total
    finally:
        await consumer.stop()


async def ask(client: httpx.AsyncClient, what: str, url: str, during: bool) -> Answer:
    started = time.perf_counter()
    try:
        status = (await client.get(url)).status_code
    except httpx.HTTPError:
        status = 0  # no answer within the client's timeout is an answer too
    return Answer(what, status, 1000 * (time.perf_counter() - started), during)


def _requests(urls: Mapping[str, str]) -> dict[str, str]:
    user = batch_user(USER_SEED, 0)
    api = urls["API_URL"] + API
    return {
        "health /v1/health": f"{urls['HEALTH_URL']}/v1/health",
        "api balances": f"{api}/balances?address={user}",
        "api transactions": f"{api}/transactions?address={user}&limit=20",
    }


async def probe_all(
    client: httpx.AsyncClient, urls: Mapping[str, str], during: bool
) -> list[Answer]:
    return [await ask(client, what, url, during) for what, url in _requests(urls).items()]


class Monitor:
    """Samples the pipeline every SAMPLE_S while it works, and prints how far it is."""

    def __init__(self, run: Run, urls: Mapping[str, str], started: float) -> None:
        self.run = run
        self.urls = urls
        self.started = started
        self.last_probe = 0.0
        self.last_print = 0.0

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def sample_memory(self, progress: float) -> None:
        """Every service's RSS and the node's, which must stay within its limit."""
        taken = self.run.memory.add(self.elapsed(), progress, leaders())
        within_memory(taken.rss_mib.get("node", 0.0))

    async def sample(
        self,
        connection: asyncpg.Connection,
        in_kafka: Callable[[], Awaitable[int]],
        client: httpx.AsyncClient,
    ) -> Point:
        rows = await rows_committed(connection)
        offsets = await in_kafka()
        point = Point(self.elapsed(), offsets, rows)
        self.run.points.append(point)
        self.sample_memory(rows / self.run.loaded.events)
        if self.run.published_s is None and published_block() >= self.run.loaded.last_block:
            self.run.published_s = point.seconds
        if point.seconds - self.last_probe >= PROBE_EVERY_S:
            self.last_probe = point.seconds
            self.run.answers += await probe_all(client, self.urls, during=True)
        if point.seconds - self.last_print >= PRINT_EVERY_S:
            self.last_print = point.seconds
            print(progress_line(self.run), flush=True)
        return point

    async def until_written(self, bootstrap: str, migrator_url: str) -> None:
        connection = await asyncpg.connect(migrator_url)
        try:
            async with (
                end_offsets_reader(bootstrap) as in_kafka,
                httpx.AsyncClient(timeout=10) as client,
            ):
                while True:
                    point = await self.sample(connection, in_kafka, client)
                    if point.rows >= self.run.loaded.events:
                        break
                    await asyncio.sleep(SAMPLE_S)
                self.run.rows_s = self.elapsed()
                await self.until_health_read(client)
                self.run.answers += await probe_all(client, self.urls, during=False)
            self.run.counted_rows = await count_deposits(connection)
        finally:
            await connection.close()

    async def until_health_read(self, client: httpx.AsyncClient) -> None:
        """Health has read the chain through the last block and judged the database that
        holds it all: a report computed after the last row (its score is then the pipeline's,
        not a partial view's; a cycle that began earlier judged a database still catching up)."""
        deadline = time.monotonic() + HEALTH_WITHIN_S
        url = f"{self.urls['HEALTH_URL']}/v1/health"
        written = datetime.now(UTC)
        while True:
            report: dict[str, object] = (await client.get(url)).json()
            world = report.get("world")
            read = world.get("chain_read_through") if isinstance(world, dict) else None
            caught_up = isinstance(read, int) and read >= self.run.loaded.last_block
            computed = datetime.fromisoformat(str(report.get("computed_at")))
            fresh = caught_up and computed > written and report.get("sources_ready")
            if fresh or time.monotonic() > deadline:
                self.run.health, self.run.health_s = report, self.elapsed()
                return
            self.sample_memory(1.0)
            await asyncio.sleep(SAMPLE_S)


def load(node: PrivateChain, contracts: Path) -> Loaded:
    started = time.perf_counter()
    last_print = started

    def said(made: int) -> None:
        nonlocal last_print
        node_mib = within_memory(node_rss_mib())
        now = time.perf_counter()
        if now - last_print >= PRINT_EVERY_S:
            last_print = now
            rate = made / (now - started)
            print(
                f"  loading: {made:,} of {COUNT:,} events in {now - started:.0f}s = "
                f"{rate:,.0f}/s, node RSS {node_mib:,.0f} MiB, load {load_now()}",
                flush=True,
            )

    first, last, events = load_deposits(node, contracts, COUNT, said)
    return Loaded(first, last, events, time.perf_counter() - started, node_rss_mib())


def high_water() -> dict[str, float]:
    """VmHWM of each service's leading process: its peak, also between two samples."""
    return {name: rss.field_mib(pid, "VmHWM") for name, pid in leaders().items()}


def run() -> Run:
    with tempfile.TemporaryDirectory() as build, own_stack.bench_stack() as env:
        contracts = compile_with_test_contracts(Path(build))
        with private_chain(contracts, NODE, CHAIN_ID) as node:
            loaded = load(node, contracts)
            print(f"  loaded: {loaded.events:,} events in {loaded.seconds:.0f}s", flush=True)
            figures = Run(loaded, sample_s=SAMPLE_S)
            started = time.perf_counter()
            try:
                urls = start_pipeline(env, node)
                monitor = Monitor(figures, urls, started)
                asyncio.run(
                    monitor.until_written(env["KAFKA_BOOTSTRAP_SERVERS"], env["DATABASE_URL"])
                )
                figures.high_water_mib = high_water()
                figures.load_at_end = os.getloadavg()
            finally:
                services.stop(PIPELINE, prefix=PREFIX)
    return figures


def main() -> int:
    limit = os.environ.get("BENCH_E2E_NODE_MAX_MIB")
    print(
        f"command: BENCH_E2E_EVENTS={COUNT} BENCH_E2E_SAMPLE_S={SAMPLE_S:g} "
        + (f"BENCH_E2E_NODE_MAX_MIB={limit} " if limit else "")
        + ".venv/bin/python -m bench end-to-end"
    )
    for line in lines(run()):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
