"""A world of its own for the health service: a Kafka broker of its own (the session's topics
hold every other test's messages, hostile ones included), a fresh database, the real chain, an
oracle (the devstack's book, sealed HTTP), every producer as a process (chain-listener,
db-writer, oracle-logger), the health service over all of it, and a webhook receiver."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import signal
import socket
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
from devstack import kafka, procs, services
from devstack.paths import stack_dir
from health_monitor.models import HealthReport
from oracle_logger.client import OracleLoggerClient
from reservesync.messages import (
    Alert,
    ChainEvent,
    Message,
    OracleOperation,
    OracleUserState,
    RegisteredContract,
)
from reservesync.topics import ALERTS
from scenarios.oracle.knowledge import OracleBook
from scenarios.oracle.running import logger_credentials
from scenarios.oracle.server import OracleServer

from tests.support.databases import FreshDatabase
from tests.support.messages import publish
from tests.support.stack import Endpoints
from tests.support.topics import read_all


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def _stack_dir(path: Path) -> Iterator[None]:
    """devstack's components keep their state under `RESERVESYNC_STACK_DIR`."""
    previous = os.environ.get("RESERVESYNC_STACK_DIR")
    os.environ["RESERVESYNC_STACK_DIR"] = str(path)
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("RESERVESYNC_STACK_DIR", None)
        else:
            os.environ["RESERVESYNC_STACK_DIR"] = previous


@contextlib.contextmanager
def own_kafka(passwords: Mapping[str, str]) -> Iterator[str]:
    """A second, empty Apache Kafka (KRaft) with the contract's topics, stopped afterwards;
    its users and passwords are those of the main stack (`passwords`, the admin's included)."""
    jars = kafka.ensure_jars()
    world = stack_dir() / "health-world"
    with _stack_dir(world):
        kafka.down()
        kafka.wipe()
        home = world / "kafka"
        home.mkdir(parents=True, exist_ok=True)
        if not (home / "libs").exists():
            (home / "libs").symlink_to(jars, target_is_directory=True)
        bootstrap = kafka.up(_free_port(), _free_port(), passwords)
    try:
        yield bootstrap
    finally:
        with _stack_dir(world):
            kafka.down()
            kafka.wipe()


@dataclass
class Webhook:
    """Receives alert POSTs; refuses the first one (500) so delivery must retry."""

    received: list[dict[str, Any]] = field(default_factory=list)
    refused: int = 0
    url: str = ""

    @contextlib.contextmanager
    def serving(self) -> Iterator[Webhook]:
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if hook.refused == 0:
                    hook.refused += 1
                    self.send_response(500)
                else:
                    hook.received.append(json.loads(body))
                    self.send_response(204)
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                return None

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{server.server_address[1]}/alerts"
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            server.shutdown()
            server.server_close()


@dataclass
class ThreadedOracle:
    """The devstack oracle's book and sealed HTTP (`/users`, `/operations`), served from an
    event loop of its own, so the health service (another process) can read it while a test
    runs; the test makes the oracle act on its book."""

    book: OracleBook = field(default_factory=lambda: OracleBook("oracle-h"))
    key: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    url: str = ""

    @contextlib.contextmanager
    def serving(self) -> Iterator[ThreadedOracle]:
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, daemon=True)
        thread.start()
        server = OracleServer(self.book, self.key)
        self.url = asyncio.run_coroutine_threadsafe(server.start(), loop).result(30)
        try:
            yield self
        finally:
            asyncio.run_coroutine_threadsafe(server.stop(), loop).result(30)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(10)

    def env(self) -> dict[str, str]:
        return {
            "ORACLE_USERS_URL": f"{self.url}/users",
            "ORACLE_OPERATIONS_URL": f"{self.url}/operations",
            "ORACLE_STATE_KEY": self.key.hex(),
        }


PRODUCERS = ["chain-listener", "db-writer", "oracle-logger"]


@dataclass
class World:
    """Every producer as a process over a Kafka and a database of the world's own, the real
    chain (whole, from the deployment block: health reads all of it) and an oracle."""

    endpoints: Endpoints
    bootstrap: str
    database: FreshDatabase
    webhook: Webhook
    oracle: ThreadedOracle
    # The db-writer principal may use only groups named with its prefix.
    group: str = field(default_factory=lambda: f"rbtc-db-writer-health-{secrets.token_hex(3)}")
    prefix: str = field(default_factory=lambda: f"hw{secrets.token_hex(2)}")
    token: str = field(default_factory=lambda: secrets.token_hex(16))
    health_url: str = ""
    oracle_logger_url: str = ""
    last_block: int = 0
    """The newest block a test made: health has read the world once it read this far."""

    def env(self) -> dict[str, str]:
        return {**self.endpoints.env(), "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap}

    def overrides(self, name: str) -> dict[str, str]:
        return {
            "chain-listener": {
                "CHAIN_CONFIRMATIONS": "0",
                "CHAIN_POLL_INTERVAL_S": "0.2",
                "CHAIN_TRANSACTIONAL_ID": f"chain-listener-{self.prefix}",
                "CHAIN_PROGRESS_INTERVAL_S": "1",
            },
            "db-writer": {"DATABASE_URL": self.database.writer_url, "WRITER_GROUP_ID": self.group},
            "oracle-logger": {
                **logger_credentials(self.oracle.book.oracle_id, self.token),
                "ORACLE_PULL_INTERVAL_S": "1",
                **{k: v for k, v in self.oracle.env().items() if k != "ORACLE_OPERATIONS_URL"},
            },
        }[name]

    def start_producer(self, name: str) -> None:
        urls = services.start([name], self.overrides(name), stack=self.env(), prefix=self.prefix)
        self.oracle_logger_url = urls.get("ORACLE_LOGGER_URL", self.oracle_logger_url)

    def stop_producer(self, name: str) -> None:
        services.stop([name], prefix=self.prefix)

    def signal(self, name: str, sig: signal.Signals) -> None:
        """SIGSTOP freezes a producer's whole process group (SIGCONT thaws it)."""
        pid = procs.running_pid(services.SERVICES[name].process(self.prefix))
        assert pid is not None, f"{name} is not running"
        os.killpg(pid, sig)

    def start_health(self) -> None:
        urls = services.start(
            ["health"],
            {
                "DATABASE_URL": self.database.health_url,
                "HEALTH_GROUPS": self.group,
                "CHAIN_CONFIRMATIONS": "0",
                "HEALTH_INTERVAL_S": "1",
                "HEALTH_CHAIN_GRACE_S": "3",
                "HEALTH_LAG_WINDOW": "4",
                "HEALTH_ALERT_RAISE_AFTER_S": "1",
                "HEALTH_ALERT_RESOLVE_AFTER_S": "2",
                "HEALTH_PRODUCER_RAISE_AFTER_S": "2",
                "HEALTH_DLQ_WINDOW_S": "20",
                "HEALTH_DLQ_GROWTH_S": "20",
                # The chain is the session's: the main job's and other modules' emergency burns
                # of the last ten minutes made a mass burn that kept "nothing firing" out of
                # reach for the whole of a settled() wait. These tests judge their own burns.
                "HEALTH_MASS_BURN_WINDOW_S": "20",
                "HEALTH_WEBHOOK_URL": self.webhook.url,
                **self.oracle.env(),
            },
            stack=self.env(),
            prefix=self.prefix,
        )
        self.health_url = urls["HEALTH_URL"]

    def stop(self) -> None:
        services.stop(["health", *PRODUCERS], prefix=self.prefix)

    async def log_operations(self, operations: Sequence[OracleOperation]) -> None:
        """The oracle reports what it did to the oracle-logger (the full pipeline)."""
        client = OracleLoggerClient(
            self.oracle_logger_url, self.oracle.book.oracle_id, token=self.token, max_delay_s=0.05
        )
        try:
            for operation in operations:
                await client.log_operation(operation)
            await client.flush()
        finally:
            await client.aclose()

    async def publish(self, topic: str, messages: Sequence[Message]) -> None:
        records: list[tuple[bytes | None, bytes | None]] = [
            (_key(m), m.to_json()) for m in messages
        ]
        await publish(self.bootstrap, topic, records)

    async def report(self) -> HealthReport | None:
        async with httpx.AsyncClient(timeout=10) as client:
            response = await client.get(f"{self.health_url}/v1/health")
        if response.status_code == 503:
            return None
        response.raise_for_status()
        return HealthReport.model_validate(response.json())

    async def alerts(self) -> list[Alert]:
        records = await read_all(self.bootstrap, ALERTS.name)
        return [Alert.model_validate_json(value) for _, value, _, _ in records if value]


def _key(message: Message) -> bytes:
    """The record key the producers use (SPEC section 3)."""
    match message:
        case ChainEvent():
            return message.partition_key.encode()
        case OracleOperation() | OracleUserState():
            return message.user_address.encode()
        case RegisteredContract():
            return message.name.value.encode()
    raise TypeError(f"no key rule for {type(message).__name__}")
