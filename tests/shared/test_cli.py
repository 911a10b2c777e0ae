"""Every entry point answers `--help` without side effects, and a bad setting with one line.

Each command runs as a real subprocess in a session of its own, with every endpoint it could
reach (Kafka, PostgreSQL, the chain, the HTTP services) pointed at listening sockets of this
test and the stack directory at an empty one: after `--help` no socket was connected to, the
stack directory is still empty and nothing of its process group is left running.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings
from reservesync import cli

ENTRY_POINTS = [
    "chain_listener",
    "db_writer",
    "health_monitor",
    "realtime_api",
    "oracle_logger",
    "reservesync.create_topics",
    "reservesync.db.migrate",
    "reservesync.db.roles",
    "reservesync.verify_reserves",
    "devstack",
    "scenarios.demo",
    "scenarios.drills",
    "devstack.deploy",
    "db_writer.replay",
    "db_writer.checksum",
    "db_writer.reencrypt",
    "oracle_logger.reconcile",
    "health_monitor.report",
    "bench",
    "docgen.asyncapi",
]

SETTINGS_SHOWN = {
    "chain_listener": "CHAIN_RPC_URL",
    "db_writer": "FIELD_ENCRYPTION_KEY",
    "health_monitor": "HEALTH_INTERVAL_S",
    "realtime_api": "DATABASE_URL",
    "oracle_logger": "ORACLE_TOKENS",
    "reservesync.create_topics": "KAFKA_BOOTSTRAP_SERVERS",
    "reservesync.db.migrate": "DATABASE_URL",
    "reservesync.db.roles": "POSTGRES_ADMIN_URL",
    "reservesync.verify_reserves": "VERIFY_BITCOIN_RPC_URL",
    "devstack": "RESERVESYNC_STACK_DIR",
    "scenarios.demo": "RESERVESYNC_STACK_DIR",
    "scenarios.drills": "RESERVESYNC_STACK_DIR",
    "devstack.deploy": "--rpc-url",
    "db_writer.replay": "KAFKA_BOOTSTRAP_SERVERS",
    "db_writer.checksum": "FIELD_ENCRYPTION_KEY",
    "db_writer.reencrypt": "FIELD_ENCRYPTION_KEY_ID",
    "oracle_logger.reconcile": "ORACLE_USERS_URL",
    "health_monitor.report": "HEALTH_URL",
    "bench": "BENCH_CODEC_EVENTS",
    "docgen.asyncapi": "--check",
}


class Listeners:
    """Sockets standing in for every endpoint; `connected()` says whether anyone knocked."""

    def __init__(self, count: int) -> None:
        self.sockets = []
        for _ in range(count):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            sock.listen(8)
            sock.setblocking(False)
            self.sockets.append(sock)

    def address(self, index: int) -> str:
        return f"127.0.0.1:{self.sockets[index].getsockname()[1]}"

    def connected(self) -> bool:
        with selectors.DefaultSelector() as selector:
            for sock in self.sockets:
                selector.register(sock, selectors.EVENT_READ)
            return bool(selector.select(timeout=0))

    def close(self) -> None:
        for sock in self.sockets:
            sock.close()


@pytest.fixture
def listeners() -> Iterator[Listeners]:
    found = Listeners(4)
    try:
        yield found
    finally:
        found.close()


def _environment(listeners: Listeners, stack: Path) -> dict[str, str]:
    kafka, postgres, chain, http = (listeners.address(i) for i in range(4))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KAFKA_", "DATABASE_"))}
    return {
        **env,
        "RESERVESYNC_STACK_DIR": str(stack),
        "KAFKA_BOOTSTRAP_SERVERS": kafka,
        "DATABASE_URL": f"postgresql://rs:pw@{postgres}/rs",
        "CHAIN_RPC_URL": f"http://{chain}",
        "HEALTH_URL": f"http://{http}",
        "ORACLE_USERS_URL": f"http://{http}/users",
        "ORACLE_OPERATIONS_URL": f"http://{http}/operations",
        "FIELD_ENCRYPTION_KEY": "ab" * 32,
        "HTTP_PORT": chain.rsplit(":", 1)[1],
    }


def _run(module: str, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    process = subprocess.Popen(
        [sys.executable, "-m", module, *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=120)
    finally:
        survivors = _group_alive(process.pid)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, 9)
    assert not survivors, f"{module} {args} left processes of its session running"
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.parametrize("module", ENTRY_POINTS)
def test_help_prints_the_settings_and_does_nothing_else(
    module: str, listeners: Listeners, tmp_path: Path
) -> None:
    stack = tmp_path / "stack"
    stack.mkdir()
    answer = _run(module, _environment(listeners, stack), "--help")
    assert answer.returncode == 0, answer.stderr
    assert answer.stdout.startswith("usage: python -m "), answer.stdout[:200]
    assert SETTINGS_SHOWN[module] in answer.stdout
    assert not listeners.connected(), f"{module} --help connected to an endpoint"
    assert list(stack.iterdir()) == [], f"{module} --help left state in the stack directory"


BAD_SETTINGS = {
    "chain_listener": ("CHAIN_ID", "-5"),
    "db_writer": ("FIELD_ENCRYPTION_KEY", "not-hex"),
    "health_monitor": ("HEALTH_INTERVAL_S", "soon"),
    "realtime_api": ("HTTP_PORT", "99999"),
    "oracle_logger": ("ORACLE_TOKENS", "{not json"),
    "reservesync.create_topics": ("KAFKA_REPLICATION_FACTOR", "0"),
    "reservesync.db.migrate": ("DATABASE_POOL_SIZE", "many"),
    "db_writer.replay": ("WRITER_BATCH_MAX", "-1"),
    "db_writer.checksum": ("FIELD_ENCRYPTION_KEY_ID", "no spaces allowed"),
    "db_writer.reencrypt": ("FIELD_LOOKUP_KEY", "short"),
    "oracle_logger.reconcile": ("ORACLE_STATE_KEY", "zz"),
    "reservesync.verify_reserves": ("VERIFY_BITCOIN_SCAN_FROM", "-1"),
}
EXTRA_ARGS = {
    "db_writer.replay": ["--database-url", "postgresql://x@127.0.0.1:1/x"],
    "reservesync.verify_reserves": ["--address", "0x" + "ab" * 20],
}


@pytest.mark.parametrize("module", sorted(BAD_SETTINGS))
def test_a_bad_setting_is_one_line_naming_it(
    module: str, listeners: Listeners, tmp_path: Path
) -> None:
    name, value = BAD_SETTINGS[module]
    env = {**_environment(listeners, tmp_path), name: value}
    answer = _run(module, env, *EXTRA_ARGS.get(module, []))
    assert answer.returncode == 2, answer.stderr
    lines = answer.stderr.strip().splitlines()
    assert len(lines) == 1, answer.stderr
    assert name in lines[0]
    assert "bad setting" in lines[0]
    assert "Traceback" not in answer.stderr
    assert not listeners.connected()


def test_a_missing_setting_is_named() -> None:
    class Needs(BaseSettings):
        oracle_users_url: str = Field(description="the oracle's GET /users endpoint")
        token: SecretStr = SecretStr("hidden")

    parser = cli.parser("needs", "a command", Needs)
    text = parser.format_help()
    assert "ORACLE_USERS_URL  [required]  the oracle's GET /users endpoint" in text
    assert "TOKEN" in text
    assert "hidden" not in text
    with pytest.raises(SystemExit) as ended:
        cli.load(parser, Needs)
    assert ended.value.code == 2


EXAMPLE_SECRETS = {
    "db_writer": ("FIELD_ENCRYPTION_KEY", "deadbeef" * 8),
    "realtime_api": ("DATABASE_URL", "postgresql://rs_api:change-me-rs-api@postgres/reservesync"),
    "oracle_logger": ("ORACLE_TOKENS", '{"oracle-1": "change-me-oracle-token-0001"}'),
}


@pytest.mark.parametrize("module", sorted(EXAMPLE_SECRETS))
def test_the_example_secrets_of_env_example_are_refused(
    module: str, listeners: Listeners, tmp_path: Path
) -> None:
    name, value = EXAMPLE_SECRETS[module]
    answer = _run(module, {**_environment(listeners, tmp_path), name: value})
    assert answer.returncode == 2, answer.stderr
    assert f"{name} holds an example value of .env.example" in answer.stderr
    assert value not in answer.stderr
    assert not listeners.connected()
