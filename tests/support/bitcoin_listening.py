"""A bitcoin-listener of one test's own, as a real process (so it can be killed with -9): its
own transactional id (so its checkpoint is its own), starting at the node's current height;
the oracle's user states it reads, written to the real state topic; and what it published,
read back from Kafka as a read_committed consumer sees it."""

from __future__ import annotations

import contextlib
import functools
import json
import secrets
import sys
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from aiokafka import TopicPartition
from devstack import procs
from reservesync import kafka
from reservesync.messages import Network, OracleUserState, WatchedBitcoinAddress
from reservesync.settings import KafkaSettings
from reservesync.topics import BITCOIN_BALANCES, DLQ, ORACLE_STATE

from tests.support.stack import Endpoints
from tests.support.waiting import eventually


def new_user() -> str:
    return "0x" + secrets.token_hex(20)


def listener_env(
    endpoints: Endpoints, start_height: int, port: int, **overrides: str
) -> dict[str, str]:
    return {
        "KAFKA_BOOTSTRAP_SERVERS": endpoints.kafka_bootstrap_servers,
        **endpoints.bitcoin.env(),
        "BITCOIN_START_HEIGHT": str(start_height),
        "BTC_CONFIRMATIONS": "2",
        "BITCOIN_POLL_INTERVAL_S": "0.2",
        "BITCOIN_RPC_TIMEOUT_S": "5",
        # Its own principal may use only transactional ids with its prefix.
        "BITCOIN_TRANSACTIONAL_ID": f"bitcoin-listener-test-{secrets.token_hex(4)}",
        "METRICS_PORT": str(port),
        "LIVENESS_MAX_SILENCE_S": "60",
        **_kafka_login(endpoints),
        **overrides,
    }


def _kafka_login(endpoints: Endpoints) -> dict[str, str]:
    """The bitcoin-listener's own Kafka principal, as a deployment gives it (not the admin
    this test process is)."""
    passwords = endpoints.kafka_passwords() if endpoints.kafka_credentials else {}
    if "bitcoin-listener" not in passwords:
        return {}  # a broker without authentication
    return {
        "KAFKA_SASL_USERNAME": "bitcoin-listener",
        "KAFKA_SASL_PASSWORD": passwords["bitcoin-listener"],
    }


@contextlib.contextmanager
def running_listener(name: str, env: dict[str, str]) -> Iterator[int]:
    """The listener as the process `name` until the block ends; yields its probe port."""
    start(name, env)
    try:
        yield int(env["METRICS_PORT"])
    finally:
        procs.stop(name)


def start(name: str, env: dict[str, str]) -> None:
    procs.start(name, [sys.executable, "-m", "bitcoin_listener"], env=env)
    port = int(env["METRICS_PORT"])
    procs.wait_for(name, lambda: probe(port, "/healthz")[0] == 200, 60, name)


def probe(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as answer:
            return answer.status, answer.read().decode().strip()
    except urllib.error.HTTPError as refused:
        return refused.code, refused.read().decode().strip()
    except OSError as down:
        return 0, str(down)


async def unready(port: int, says: str) -> str | None:
    """The readiness line while the listener answers 503 with `says` in it."""
    status, line = probe(port, "/readyz")
    return line if status == 503 and says in line else None


async def ready(port: int) -> bool:
    return probe(port, "/readyz")[0] == 200


async def processed_through(port: int, height: int) -> bool:
    """Whether the listener's metrics say it processed the block at `height`."""
    for line in probe(port, "/metrics")[1].splitlines():
        if line.startswith("bitcoin_listener_processed_height "):
            return float(line.split()[1]) >= height
    return False


def user_state(user: str, addresses: Iterable[str], network: str = "regtest") -> OracleUserState:
    now = datetime.now(UTC)
    return OracleUserState(
        user_address=user,
        bitcoin_addresses=[
            WatchedBitcoinAddress(
                address=a, network=Network(network), verified_at=now, monitoring=True
            )
            for a in addresses
        ],
        last_synced_sats=0,
        last_sync_at=None,
        registered_at=now,
        emergency_burns=[],
        operations_performed=0,
        as_of=now,
    )


async def publish_state(bootstrap: str, user: str, value: bytes | None) -> None:
    """A user's record on the oracle's state topic (None: the tombstone)."""
    producer = kafka.producer(KafkaSettings(kafka_bootstrap_servers=bootstrap))
    await producer.start()
    try:
        await (await producer.send(ORACLE_STATE.name, value, key=user.encode()))
    finally:
        await producer.stop()


async def read_topic(
    bootstrap: str, topic: str, partitions: int
) -> list[tuple[bytes | None, bytes | None]]:
    """(key, value) of every committed record, up to the end offsets seen at the start."""
    consumer = kafka.consumer(KafkaSettings(kafka_bootstrap_servers=bootstrap), group_id=None)
    await consumer.start()
    try:
        assigned = [TopicPartition(topic, p) for p in range(partitions)]
        consumer.assign(assigned)
        await consumer.seek_to_beginning(*assigned)
        ends = await consumer.end_offsets(assigned)
        found: list[tuple[bytes | None, bytes | None]] = []
        while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                found.extend((r.key, r.value) for r in records)
        return found
    finally:
        await consumer.stop()


async def balances(bootstrap: str, addresses: Iterable[str]) -> list[dict[str, Any] | None]:
    """The balance records of `addresses`, in topic order per address (None: tombstone)."""
    wanted = {a.encode() for a in addresses}
    records = await read_topic(bootstrap, BITCOIN_BALANCES.name, BITCOIN_BALANCES.partitions)
    return [json.loads(v) if v is not None else None for k, v in records if k in wanted]


async def latest(bootstrap: str, address: str) -> dict[str, Any] | None:
    found = await balances(bootstrap, [address])
    return found[-1] if found else None


async def balance_at(bootstrap: str, address: str, sats: int) -> dict[str, Any] | None:
    record = await latest(bootstrap, address)
    return record if record is not None and record["confirmed_sats"] == sats else None


async def until_balance(
    bootstrap: str, address: str, sats: int, within: float = 60
) -> dict[str, Any]:
    """The latest record of `address` once it says `sats`."""
    found = await eventually(
        functools.partial(balance_at, bootstrap, address, sats),
        within=within,
        what=f"{address} at {sats} sats",
    )
    assert found is not None
    return found


async def dead_letters(bootstrap: str, containing: str) -> list[dict[str, Any]]:
    return await dead_letters_of(bootstrap, "bitcoin-listener", containing)


async def dead_letters_of(bootstrap: str, service: str, containing: str) -> list[dict[str, Any]]:
    """The dead letters `service` published whose error mentions `containing`."""
    records = await read_topic(bootstrap, DLQ.name, DLQ.partitions)
    letters = [json.loads(v) for _, v in records if v is not None]
    ours = [d for d in letters if d.get("service") == service]
    return [d for d in ours if containing in d["error"]]
