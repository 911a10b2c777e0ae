"""End-to-end latency in `instant` delivery: from the block that carries an event to its row
committed in Postgres, with the time spent before and after Kafka, at fixed event rates.

The pipeline is the real one, as processes: a private Hardhat node (automine, no interval
mining: each transaction is mined into a block of its own the moment it arrives), the
chain-listener (`CHAIN_DELIVERY=instant`, no confirmations), Kafka, the db-writer, Postgres.
A generator sends BatchDepositor transactions (contracts/test) at a fixed pace, each with k
FeeVault `Deposited` events, so R events/s = (blocks/s) x k.

The clocks, all the same machine's:
- mined: when the node answers `eth_sendTransaction`. With automine it answers after mining the
  block, so the block exists from (at the latest) that moment; Hardhat's block timestamps are
  whole seconds, too coarse. The true instant precedes it by less than the call's duration,
  printed as "send call".
- in Kafka: the record's timestamp with the topic set to `LogAppendTime` (the broker's clock
  when it appended the record; the listener's transaction commits a few ms later).
- committed: `pg_xact_commit_timestamp(xmin)` of the row, Postgres's own record of when the
  transaction that inserted it committed (`track_commit_timestamp = on` on the benchmark's
  server). The row's `created_at = now()` would be the transaction's start, not its commit.

`python -m bench latency` (BENCH_LATENCY_RATES=10,100,1000, BENCH_LATENCY_SECONDS=20 per rate,
BENCH_LATENCY_POLL_S = the listener's CHAIN_POLL_INTERVAL_S, by default left to the listener:
0.25 s under instant delivery).
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
from aiokafka import TopicPartition
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from chain_listener.config import INSTANT_POLL_INTERVAL_S
from devstack import postgres, services
from reservesync import kafka
from reservesync.contracts import SystemContract
from reservesync.settings import KafkaSettings
from reservesync.topics import CHAIN_EVENTS
from web3.contract import Contract

from bench import sink
from bench.private_chain import (
    PrivateChain,
    compile_with_test_contracts,
    deploy_test_contract,
    deposit_for_many,
    private_chain,
)

RATES = [int(r) for r in os.environ.get("BENCH_LATENCY_RATES", "10,100,1000").split(",")]
SECONDS = float(os.environ.get("BENCH_LATENCY_SECONDS", "20"))
_POLL = os.environ.get("BENCH_LATENCY_POLL_S")
POLL_S = float(_POLL) if _POLL else INSTANT_POLL_INTERVAL_S
"""The listener's CHAIN_POLL_INTERVAL_S: its own instant-delivery default unless given."""
WARM_UP_S = 2.0
"""Sent at each rate before the measured part, and left out of the figures."""
MAX_BLOCKS_PER_S = 20
"""Above this the events of a second share blocks (k per transaction): a block every 50 ms is
already faster than any chain the protocol runs on."""
CHAIN_ID = 31340
SEED = 7
GOAL_RATE, GOAL_P99_MS = 100, 500.0
PREFIX = "latency"


@dataclass(frozen=True)
class Sent:
    tx_hash: str
    started: float
    mined: float


@dataclass(frozen=True)
class Figures:
    rate: int
    per_block: int
    blocks_per_s: float
    events: int
    achieved_per_s: float
    total_ms: list[float]
    to_kafka_ms: list[float]
    to_postgres_ms: list[float]
    send_call_ms: list[float]
    load: tuple[float, float, float]


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


async def commit_timestamps_on(admin_url: str) -> None:
    connection = await asyncpg.connect(admin_url)
    try:
        await connection.execute("ALTER SYSTEM SET track_commit_timestamp = on")
    finally:
        await connection.close()
    postgres.restart()  # the setting takes effect only at server start


async def log_append_time(bootstrap: str) -> None:
    """The events topic stamps records with the broker's append time. AlterConfigs replaces a
    topic's whole configuration, so its own settings are given again."""
    admin = kafka.admin(KafkaSettings(kafka_bootstrap_servers=bootstrap))
    await admin.start()
    try:
        configs = {**CHAIN_EVENTS.configs, "message.timestamp.type": "LogAppendTime"}
        await admin.alter_configs(
            [ConfigResource(ConfigResourceType.TOPIC, CHAIN_EVENTS.name, configs=configs)]
        )
    finally:
        await admin.close()


def _transaction(node: PrivateChain, depositor: Contract, per_block: int) -> dict[str, str]:
    """One BatchDepositor call making `per_block` Deposited events, as eth_sendTransaction
    params (gas given, so the node estimates nothing per call)."""
    vault = node.protocol.contract(SystemContract.FEE_VAULT).address
    data = depositor.encode_abi("depositForMany", args=[vault, SEED, per_block])
    tx = {"from": node.protocol.owner, "to": depositor.address, "data": data}
    gas = node.w3.eth.estimate_gas({**tx, "value": per_block})  # type: ignore[typeddict-item]
    return {**tx, "value": hex(per_block), "gas": hex(int(gas * 1.5))}


async def _send(session: aiohttp.ClientSession, url: str, tx: Mapping[str, str]) -> Sent:
    request = {"jsonrpc": "2.0", "id": 1, "method": "eth_sendTransaction", "params": [tx]}
    started = time.time()
    async with session.post(url, json=request) as response:
        answer = await response.json()
    mined = time.time()
    if "error" in answer:
        raise RuntimeError(f"eth_sendTransaction: {answer['error']}")
    return Sent(str(answer["result"]).lower(), started, mined)


async def generate(
    url: str, tx: Mapping[str, str], blocks_per_s: float, seconds: float
) -> list[Sent]:
    """Transactions at a fixed pace (not one after the other: a slow answer does not delay
    the next send)."""
    count = max(1, round(blocks_per_s * seconds))
    async with aiohttp.ClientSession() as session:
        start = time.monotonic() + 0.05
        sending = []
        for i in range(count):
            delay = start + i / blocks_per_s - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            sending.append(asyncio.create_task(_send(session, url, tx)))
        return list(await asyncio.gather(*sending))


async def _rows_committed(db: sink.Database, hashes: list[str], expected: int) -> dict[Any, float]:
    """(tx_hash, log_index) -> commit time, once all `expected` rows are there."""
    connection = await asyncpg.connect(db.migrator_url)
    try:
        deadline = time.monotonic() + 120
        while True:
            rows = await connection.fetch(
                "SELECT tx_hash, log_index, "
                "extract(epoch FROM pg_xact_commit_timestamp(xmin))::float8 AS committed "
                "FROM transactions WHERE tx_hash = ANY($1::text[])",
                hashes,
            )
            if len(rows) >= expected:
                return {(r["tx_hash"], r["log_index"]): r["committed"] for r in rows}
            if time.monotonic() > deadline:
                raise RuntimeError(f"{len(rows)} of {expected} rows after 120s")
            await asyncio.sleep(0.2)
    finally:
        await connection.close()


async def _appended(bootstrap: str, hashes: set[str]) -> dict[Any, float]:
    """(tx_hash, log_index) -> the broker's append time (s) of each of these events."""
    consumer = kafka.consumer(KafkaSettings(kafka_bootstrap_servers=bootstrap), group_id=None)
    await consumer.start()
    try:
        partitions = [TopicPartition(CHAIN_EVENTS.name, p) for p in range(CHAIN_EVENTS.partitions)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        found: dict[Any, float] = {}
        idle = 0
        while idle < 5 and any([await consumer.position(tp) < ends[tp] for tp in partitions]):
            batch = await consumer.getmany(timeout_ms=300)
            idle = 0 if batch else idle + 1
            for records in batch.values():
                for record in records:
                    event = json.loads(record.value or b"{}")
                    if event.get("tx_hash") in hashes:
                        if record.timestamp_type != 1:
                            raise RuntimeError("the events topic is not on LogAppendTime")
                        found[(event["tx_hash"], event["log_index"])] = record.timestamp / 1000
        return found
    finally:
        await consumer.stop()


def _shape(rate: int) -> tuple[float, int]:
    """(blocks/s, events per block) for `rate` events/s."""
    per_block = max(1, -(-rate // MAX_BLOCKS_PER_S))
    return rate / per_block, per_block


def measure(
    env: Mapping[str, str], node: PrivateChain, depositor: Contract, db: sink.Database, rate: int
) -> Figures:
    blocks_per_s, per_block = _shape(rate)
    tx = _transaction(node, depositor, per_block)
    warm = asyncio.run(generate(node.rpc_url, tx, blocks_per_s, WARM_UP_S))
    asyncio.run(_rows_committed(db, [s.tx_hash for s in warm], len(warm) * per_block))
    started = time.monotonic()
    sent = asyncio.run(generate(node.rpc_url, tx, blocks_per_s, SECONDS))
    elapsed = time.monotonic() - started
    load = os.getloadavg()
    hashes = [s.tx_hash for s in sent]
    committed = asyncio.run(_rows_committed(db, hashes, len(sent) * per_block))
    appended = asyncio.run(_appended(env["KAFKA_BOOTSTRAP_SERVERS"], set(hashes)))
    mined = {s.tx_hash: s.mined for s in sent}
    total, to_kafka, to_postgres = [], [], []
    for key, at in committed.items():
        total.append(1000 * (at - mined[key[0]]))
        to_kafka.append(1000 * (appended[key] - mined[key[0]]))
        to_postgres.append(1000 * (at - appended[key]))
    return Figures(
        rate,
        per_block,
        blocks_per_s,
        len(committed),
        len(committed) / elapsed,
        total,
        to_kafka,
        to_postgres,
        [1000 * (s.mined - s.started) for s in sent],
        load,
    )


def _start_pipeline(env: Mapping[str, str], node: PrivateChain, db: sink.Database) -> None:
    services.start(
        ["db-writer"],
        {
            "DATABASE_URL": db.writer_url,
            "WRITER_GROUP_ID": f"rbtc-db-writer-latency-{secrets.token_hex(3)}",
        },
        stack=env,
        prefix=PREFIX,
    )
    services.start(
        ["chain-listener"],
        {
            **node.deployment.env(),
            "CHAIN_RPC_URL": node.rpc_url,
            "CHAIN_DELIVERY": "instant",
            "CHAIN_CONFIRMATIONS": "0",
            **({"CHAIN_POLL_INTERVAL_S": _POLL} if _POLL else {}),
            "CHAIN_START_BLOCK": str(node.head() + 1),
            "CHAIN_TRANSACTIONAL_ID": f"chain-listener-latency-{secrets.token_hex(3)}",
        },
        stack=env,
        prefix=PREFIX,
    )


def run() -> list[Figures]:
    with tempfile.TemporaryDirectory() as build, sink.bench_stack() as env:
        asyncio.run(commit_timestamps_on(env["POSTGRES_ADMIN_URL"]))
        asyncio.run(log_append_time(env["KAFKA_BOOTSTRAP_SERVERS"]))
        contracts = compile_with_test_contracts(Path(build))
        with private_chain(contracts, "bench-latency-hardhat", CHAIN_ID) as node:
            depositor = deploy_test_contract(node.w3, contracts, "BatchDepositor")
            # The users exist before the clock starts (a first deposit costs more gas).
            deposit_for_many(node.protocol, depositor, SEED, max(_shape(r)[1] for r in RATES))
            db = sink.fresh_database(env, "latency")
            _start_pipeline(env, node, db)
            try:
                return [measure(env, node, depositor, db, rate) for rate in RATES]
            finally:
                services.stop(["chain-listener", "db-writer"], prefix=PREFIX)


def _ms(values: Sequence[float]) -> str:
    return "/".join(f"{percentile(values, q):.0f}" for q in (50, 95, 99)) + " ms"


def lines(figures: Sequence[Figures]) -> list[str]:
    out = [
        f"latency: block -> row committed, instant delivery, listener poll interval "
        f"{POLL_S:g}s{'' if _POLL else ' (its instant default)'}, {SECONDS:g}s per rate; "
        "p50/p95/p99"
    ]
    for f in figures:
        p99 = percentile(f.total_ms, 99)
        goal = ""
        if f.rate == GOAL_RATE:
            goal = (
                f" (goal p99 < {GOAL_P99_MS:.0f} ms: {'met' if p99 < GOAL_P99_MS else 'NOT met'})"
            )
        out += [
            f"  {f.rate:>5} events/s ({f.blocks_per_s:g} blocks/s x {f.per_block}; "
            f"{f.events:,} events, {f.achieved_per_s:,.0f}/s achieved; load "
            f"{' '.join(f'{x:.2f}' for x in f.load)}): total {_ms(f.total_ms)}, "
            f"max {max(f.total_ms):.0f} ms{goal}",
            f"        RPC->Kafka {_ms(f.to_kafka_ms)}; Kafka->Postgres {_ms(f.to_postgres_ms)}; "
            f"send call (mined-time uncertainty) {_ms(f.send_call_ms)}",
        ]
    return out


def main() -> int:
    print(
        f"command: BENCH_LATENCY_RATES={','.join(map(str, RATES))} "
        f"BENCH_LATENCY_SECONDS={SECONDS:g} BENCH_LATENCY_POLL_S={POLL_S:g} "
        ".venv/bin/python -m bench latency"
    )
    for line in lines(run()):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
