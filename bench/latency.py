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

Both ways of noticing blocks run in one go, one after the other on the same node, Kafka,
writer and database: `poll` (no CHAIN_WS_URL: the head asked for every CHAIN_POLL_INTERVAL_S)
and `push` (CHAIN_WS_URL: the node's `newHeads` subscription wakes the listener). For each,
the JSON-RPC calls per block come from the listener's own `chain_listener_rpc_calls_total`
(batch members counted one by one), and the calls per second of an idle listener (no blocks
for BENCH_LATENCY_IDLE_S) show what it costs between blocks.

`python -m bench latency` (BENCH_LATENCY_RATES=10,100,1000, BENCH_LATENCY_SECONDS=20 per rate,
BENCH_LATENCY_MODES=poll,push, BENCH_LATENCY_IDLE_S=10, BENCH_LATENCY_MAX_BLOCKS_PER_S=20,
BENCH_LATENCY_POLL_S = the listener's CHAIN_POLL_INTERVAL_S, by default left to the listener:
0.25 s under instant delivery).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from chain_listener.config import INSTANT_POLL_INTERVAL_S
from devstack import chain, services
from web3.contract import Contract

from bench import listener_calls, own_stack
from bench.latency_clocks import (
    appended_at,
    commit_timestamps_on,
    log_append_time,
    rows_committed,
)
from bench.private_chain import (
    PrivateChain,
    compile_with_test_contracts,
    deploy_test_contract,
    deposit_for_many,
    deposit_transaction,
    private_chain,
)

RATES = [int(r) for r in os.environ.get("BENCH_LATENCY_RATES", "10,100,1000").split(",")]
SECONDS = float(os.environ.get("BENCH_LATENCY_SECONDS", "20"))
MODES = [m for m in os.environ.get("BENCH_LATENCY_MODES", "poll,push").split(",") if m]
IDLE_S = float(os.environ.get("BENCH_LATENCY_IDLE_S", "10"))
_POLL = os.environ.get("BENCH_LATENCY_POLL_S")
POLL_S = float(_POLL) if _POLL else INSTANT_POLL_INTERVAL_S
"""The listener's CHAIN_POLL_INTERVAL_S: its own instant-delivery default unless given."""
WARM_UP_S = 2.0
"""Sent at each rate before the measured part, and left out of the figures."""
MAX_BLOCKS_PER_S = int(os.environ.get("BENCH_LATENCY_MAX_BLOCKS_PER_S", "20"))
"""Above this the events of a second share blocks (k per transaction): a block every 50 ms is
already faster than any chain the protocol runs on; 1 or 2 give a real chain's cadence."""
CHAIN_ID = 31340
SEED = 7
GOAL_RATE = 100
GOAL_P99_MS = {"poll": 500.0, "push": 60.0}
SUBSCRIBED_WITHIN_S = 60.0
PREFIX = "latency"


@dataclass(frozen=True)
class Sent:
    tx_hash: str
    started: float
    mined: float


@dataclass(frozen=True)
class Figures:
    mode: str
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
    blocks: int
    calls: Counter[str]
    """JSON-RPC calls of the listener while these blocks were mined and published."""


@dataclass(frozen=True)
class Idle:
    mode: str
    seconds: float
    calls: Counter[str]


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


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


def _shape(rate: int) -> tuple[float, int]:
    """(blocks/s, events per block) for `rate` events/s."""
    per_block = max(1, -(-rate // MAX_BLOCKS_PER_S))
    return rate / per_block, per_block


def _calls_in(mode: str) -> listener_calls.Snapshot:
    """The listener's calls so far; fails if it is not noticing blocks the way measured."""
    found = listener_calls.snapshot(PREFIX)
    if found.mode != mode:
        raise RuntimeError(f"the listener is in {found.mode} mode, not {mode}")
    return found


def measure(
    env: Mapping[str, str],
    node: PrivateChain,
    depositor: Contract,
    db: own_stack.Database,
    *,
    rate: int,
    mode: str,
) -> Figures:
    blocks_per_s, per_block = _shape(rate)
    tx = deposit_transaction(node, depositor, SEED, per_block)
    warm = asyncio.run(generate(node.rpc_url, tx, blocks_per_s, WARM_UP_S))
    asyncio.run(rows_committed(db, [s.tx_hash for s in warm], len(warm) * per_block))
    calls_before = _calls_in(mode)
    started = time.monotonic()
    sent = asyncio.run(generate(node.rpc_url, tx, blocks_per_s, SECONDS))
    elapsed = time.monotonic() - started
    load = os.getloadavg()
    hashes = [s.tx_hash for s in sent]
    committed = asyncio.run(rows_committed(db, hashes, len(sent) * per_block))
    calls = _calls_in(mode).since(calls_before)
    appended = asyncio.run(appended_at(env["KAFKA_BOOTSTRAP_SERVERS"], set(hashes)))
    mined = {s.tx_hash: s.mined for s in sent}
    total, to_kafka, to_postgres = [], [], []
    for key, at in committed.items():
        total.append(1000 * (at - mined[key[0]]))
        to_kafka.append(1000 * (appended[key] - mined[key[0]]))
        to_postgres.append(1000 * (at - appended[key]))
    return Figures(
        mode,
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
        len(sent),  # automine: one block per transaction
        calls,
    )


def idle(mode: str) -> Idle:
    """The listener's calls while no block comes: a fixed window is the measurement itself."""
    before = _calls_in(mode)
    time.sleep(IDLE_S)
    return Idle(mode, IDLE_S, _calls_in(mode).since(before))


def _start_writer(env: Mapping[str, str], db: own_stack.Database) -> None:
    services.start(
        ["db-writer"],
        {
            "DATABASE_URL": db.writer_url,
            "WRITER_GROUP_ID": f"rbtc-db-writer-latency-{secrets.token_hex(3)}",
        },
        stack=env,
        prefix=PREFIX,
    )


def _start_listener(env: Mapping[str, str], node: PrivateChain, mode: str) -> None:
    """A listener of its own per mode, from the next block on (the stack's CHAIN_WS_URL is
    the stack's node, not this private one: the mode always says which socket, if any)."""
    services.start(
        ["chain-listener"],
        {
            **node.deployment.env(),
            "CHAIN_RPC_URL": node.rpc_url,
            "CHAIN_DELIVERY": "instant",
            "CHAIN_CONFIRMATIONS": "0",
            **({"CHAIN_POLL_INTERVAL_S": _POLL} if _POLL else {}),
            "CHAIN_WS_URL": chain.websocket_url(node.rpc_url) if mode == "push" else "",
            "CHAIN_START_BLOCK": str(node.head() + 1),
            "CHAIN_TRANSACTIONAL_ID": f"chain-listener-latency-{secrets.token_hex(3)}",
        },
        stack=env,
        prefix=PREFIX,
    )
    deadline = time.monotonic() + SUBSCRIBED_WITHIN_S
    while listener_calls.snapshot(PREFIX).mode != mode:
        if time.monotonic() > deadline:
            raise RuntimeError(f"the listener was not in {mode} mode within {SUBSCRIBED_WITHIN_S}s")
        time.sleep(0.2)


def run() -> tuple[list[Figures], list[Idle]]:
    with tempfile.TemporaryDirectory() as build, own_stack.bench_stack() as env:
        asyncio.run(commit_timestamps_on(env["POSTGRES_ADMIN_URL"]))
        asyncio.run(log_append_time(env["KAFKA_BOOTSTRAP_SERVERS"]))
        contracts = compile_with_test_contracts(Path(build))
        with private_chain(contracts, "bench-latency-hardhat", CHAIN_ID) as node:
            depositor = deploy_test_contract(node.w3, contracts, "BatchDepositor")
            # The users exist before the clock starts (a first deposit costs more gas).
            deposit_for_many(node.protocol, depositor, SEED, max(_shape(r)[1] for r in RATES))
            db = own_stack.fresh_database(env, "latency")
            _start_writer(env, db)
            figures: list[Figures] = []
            idles: list[Idle] = []
            try:
                for mode in MODES:
                    _start_listener(env, node, mode)
                    figures += [
                        measure(env, node, depositor, db, rate=rate, mode=mode) for rate in RATES
                    ]
                    idles.append(idle(mode))
                    services.stop(["chain-listener"], prefix=PREFIX)
                return figures, idles
            finally:
                services.stop(["chain-listener", "db-writer"], prefix=PREFIX)


def _ms(values: Sequence[float]) -> str:
    return "/".join(f"{percentile(values, q):.0f}" for q in (50, 95, 99)) + " ms"


def lines(figures: Sequence[Figures], idles: Sequence[Idle]) -> list[str]:
    out = [
        f"latency: block -> row committed, instant delivery, {SECONDS:g}s per rate and mode; "
        f"poll: CHAIN_POLL_INTERVAL_S {POLL_S:g}s{'' if _POLL else ' (its instant default)'}; "
        "push: newHeads over WebSocket; p50/p95/p99"
    ]
    for rate in dict.fromkeys(f.rate for f in figures):
        first = next(f for f in figures if f.rate == rate)
        out.append(f"  {rate:>5} events/s ({first.blocks_per_s:g} blocks/s x {first.per_block})")
        out += [line for f in figures if f.rate == rate for line in _mode_lines(f)]
    for i in idles:
        calls = sum(i.calls.values())
        each = ", ".join(f"{m} {n / i.seconds:.2f}" for m, n in sorted(i.calls.items()))
        out.append(
            f"  idle {i.mode}: {calls / i.seconds:.2f} RPC calls/s over {i.seconds:g}s ({each})"
        )
    return out


def _mode_lines(f: Figures) -> list[str]:
    p99 = percentile(f.total_ms, 99)
    goal = ""
    if f.rate == GOAL_RATE and f.mode in GOAL_P99_MS:
        limit = GOAL_P99_MS[f.mode]
        goal = f" (goal p99 < {limit:.0f} ms: {'met' if p99 < limit else 'NOT met'})"
    return [
        f"    {f.mode}: {f.events:,} events, {f.achieved_per_s:,.0f}/s achieved; load "
        f"{' '.join(f'{x:.2f}' for x in f.load)}: total {_ms(f.total_ms)}, "
        f"max {max(f.total_ms):.0f} ms{goal}",
        f"          RPC->Kafka {_ms(f.to_kafka_ms)}; Kafka->Postgres {_ms(f.to_postgres_ms)}; "
        f"send call (mined-time uncertainty) {_ms(f.send_call_ms)}",
        f"          RPC calls per block {listener_calls.per_block(f.calls, f.blocks)}",
    ]


def main() -> int:
    print(
        f"command: BENCH_LATENCY_RATES={','.join(map(str, RATES))} "
        f"BENCH_LATENCY_SECONDS={SECONDS:g} BENCH_LATENCY_MODES={','.join(MODES)} "
        f"BENCH_LATENCY_IDLE_S={IDLE_S:g} BENCH_LATENCY_POLL_S={POLL_S:g} "
        f"BENCH_LATENCY_MAX_BLOCKS_PER_S={MAX_BLOCKS_PER_S} "
        ".venv/bin/python -m bench latency"
    )
    for line in lines(*run()):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
