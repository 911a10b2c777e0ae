"""Waiting until the pipeline has nothing left to do, so a report describes a finished world
rather than one still in flight: the listener has published through the chain's head, the
writer has read every record of its topics, and the oracle-logger has pulled the oracle's
newest state."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

import asyncpg
from chain_listener import checkpoint
from devstack.database import ENV_KEYS
from devstack.topic_reading import read_all, records_from
from reservesync.messages import OracleUserState
from reservesync.settings import KafkaSettings
from reservesync.topics import ALL_TOPICS, ORACLE_STATE
from web3 import Web3

WRITER_GROUP = "rbtc-db-writer"
LISTENER_ID = "chain-listener"


@dataclass(frozen=True)
class Backlog:
    blocks_unpublished: int
    records_unwritten: int
    oracle_states_unpulled: int

    @property
    def empty(self) -> bool:
        return not (
            self.blocks_unpublished or self.records_unwritten or self.oracle_states_unpulled
        )

    def __str__(self) -> str:
        return (
            f"{self.blocks_unpublished} blocks to publish, {self.records_unwritten} records to "
            f"write, {self.oracle_states_unpulled} oracle states to pull"
        )


async def backlog(
    env: Mapping[str, str], writer_topics: list[str], oracle_states: list[OracleUserState]
) -> Backlog:
    bootstrap = env["KAFKA_BOOTSTRAP_SERVERS"]
    head = await asyncio.to_thread(
        lambda: Web3(Web3.HTTPProvider(env["CHAIN_RPC_URL"])).eth.block_number
    )
    key = f"{LISTENER_ID}/{env['CHAIN_ID']}".encode()
    saved = await checkpoint.load(KafkaSettings(kafka_bootstrap_servers=bootstrap), key)
    published_through = saved.next_block - 1 if saved else -1
    return Backlog(
        blocks_unpublished=max(0, head - published_through),
        records_unwritten=await records_from(bootstrap, await _writer_offsets(env, writer_topics)),
        oracle_states_unpulled=await _states_unpulled(bootstrap, oracle_states),
    )


async def until_idle(
    env: Mapping[str, str],
    writer_topics: list[str],
    oracle_states: Callable[[], list[OracleUserState]],
    *,
    within_s: float = 180,
    say: Callable[[str], None] = print,
) -> None:
    deadline = time.monotonic() + within_s
    last_said = 0.0
    while True:
        found = await backlog(env, writer_topics, oracle_states())
        if found.empty:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"the pipeline did not settle in {within_s:.0f}s: {found}")
        if time.monotonic() - last_said > 5:
            say(f"  waiting for the pipeline: {found}")
            last_said = time.monotonic()
        await asyncio.sleep(0.5)


async def _writer_offsets(env: Mapping[str, str], topics: list[str]) -> dict[tuple[str, int], int]:
    """Where the writer stands per partition (its offsets live in Postgres with its rows)."""
    connection = await asyncpg.connect(env[ENV_KEYS["rs_health"]])
    try:
        rows = await connection.fetch(
            "SELECT topic, partition, next_offset FROM sink_offsets WHERE consumer_group = $1",
            WRITER_GROUP,
        )
    finally:
        await connection.close()
    stored = {(r["topic"], r["partition"]): int(r["next_offset"]) for r in rows}
    counts = {t.name: t.partitions for t in ALL_TOPICS}
    return {(t, p): stored.get((t, p), 0) for t in topics for p in range(counts[t])}


async def _states_unpulled(bootstrap: str, states: list[OracleUserState]) -> int:
    if not states:
        return 0
    pulled: dict[str, datetime] = {}
    for key, value, _, _ in await read_all(bootstrap, ORACLE_STATE.name):
        if key is not None and value is not None:
            pulled[key.decode()] = datetime.fromisoformat(json.loads(value)["as_of"])
    return sum(
        1 for s in states if s.user_address not in pulled or pulled[s.user_address] < s.as_of
    )
