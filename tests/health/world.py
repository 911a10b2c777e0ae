"""A world of its own for the health service: a Kafka broker of its own (the session's topics
hold every other test's messages, hostile ones included, so no score over them could be
predicted), a fresh database, a db-writer and the health service over both, the real chain
for contract code, and a webhook receiver."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import socket
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
from devstack import kafka, services
from devstack.paths import stack_dir
from health_monitor.models import HealthReport
from reservesync.messages import (
    Alert,
    ChainEvent,
    Message,
    OracleOperation,
    OracleUserState,
    RegisteredContract,
)
from reservesync.topics import ALERTS
from support.databases import FreshDatabase
from support.messages import publish
from support.stack import Endpoints
from support.topics import read_all


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
class World:
    endpoints: Endpoints
    bootstrap: str
    database: FreshDatabase
    webhook: Webhook
    # The db-writer principal may use only groups named with its prefix.
    group: str = field(default_factory=lambda: f"rbtc-db-writer-health-{secrets.token_hex(3)}")
    prefix: str = field(default_factory=lambda: f"hw{secrets.token_hex(2)}")
    health_url: str = ""

    def env(self) -> dict[str, str]:
        return {**self.endpoints.env(), "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap}

    def start_writer(self) -> None:
        services.start(
            ["db-writer"],
            {"DATABASE_URL": self.database.writer_url, "WRITER_GROUP_ID": self.group},
            stack=self.env(),
            prefix=self.prefix,
        )

    def stop_writer(self) -> None:
        services.stop(["db-writer"], prefix=self.prefix)

    def start_health(self) -> None:
        urls = services.start(
            ["health"],
            {
                "DATABASE_URL": self.database.health_url,
                "HEALTH_GROUPS": self.group,
                "HEALTH_INTERVAL_S": "0.5",
                "HEALTH_LAG_WINDOW": "4",
                "HEALTH_ALERT_RAISE_AFTER_S": "1",
                "HEALTH_ALERT_RESOLVE_AFTER_S": "2",
                "HEALTH_DLQ_WINDOW_S": "20",
                "HEALTH_DLQ_GROWTH_S": "20",
                "HEALTH_WEBHOOK_URL": self.webhook.url,
            },
            stack=self.env(),
            prefix=self.prefix,
        )
        self.health_url = urls["HEALTH_URL"]

    def stop(self) -> None:
        services.stop(["health", "db-writer"], prefix=self.prefix)

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
