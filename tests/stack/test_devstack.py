"""The local stack's own promises: one command up, idempotent and quick the second time, one
command down leaving no process behind. Runs a second, independent stack in a temp dir."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from devstack import envfile, kafka, procs, services
from reservesync import kafka as kafka_clients
from reservesync import kafka_acl
from reservesync.topics import ALL_TOPICS

REQUIRED_KEYS = {
    "KAFKA_BOOTSTRAP_SERVERS",
    "DATABASE_URL",
    "CHAIN_RPC_URL",
    "CHAIN_WS_URL",
    "CHAIN_ID",
    "CHAIN_CONTRACTS",
    "DB_WRITER_DATABASE_URL",
    "HEALTH_DATABASE_URL",
    "API_DATABASE_URL",
    "ORACLE_LOGGER_DATABASE_URL",
    "BITCOIN_RPC_URL",
    "BITCOIN_RPC_USER",
    "BITCOIN_RPC_PASSWORD",
    "BITCOIN_NETWORK",
    "BITCOIN_MINING_ADDRESS",
    "BITCOIN_MINING_WIF",
    "KAFKA_SECURITY_PROTOCOL",
    "KAFKA_SASL_MECHANISM",
    "KAFKA_SASL_USERNAME",
    "KAFKA_SASL_PASSWORD",
    *(kafka_acl.password_env(name) for name in kafka_acl.PRINCIPALS),
}


def _devstack(stack_dir: Path, command: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "devstack", command],
        env={**os.environ, "RESERVESYNC_STACK_DIR": str(stack_dir)},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, f"devstack {command} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


async def _topics_as_admin(env: dict[str, str]) -> set[str]:
    admin = kafka_clients.admin(kafka.admin_settings(env))
    await admin.start()
    try:
        return set(await admin.list_topics())
    finally:
        await admin.close()


def _pids(stack_dir: Path) -> dict[str, int]:
    pids = {p.stem: int(p.read_text()) for p in (stack_dir / "run").glob("*.pid")}
    datadir = (stack_dir / "run" / "postgres.datadir").read_text()
    pids["postgres"] = int((Path(datadir) / "postmaster.pid").read_text().split()[0])
    return pids


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/status")
    return not (status.exists() and "\nState:\tZ" in status.read_text())


@pytest.mark.timeout(900)
def test_up_is_idempotent_and_down_leaves_nothing(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    stack_dir = tmp_path_factory.mktemp("second-stack")
    try:
        first = _devstack(stack_dir, "up")
        assert "local stack up" in first
        values = envfile.read(stack_dir / "env")
        assert set(values) >= REQUIRED_KEYS
        assert values["CHAIN_ID"] == "31337"
        started = _pids(stack_dir)
        assert {"kafka", "hardhat", "postgres", "btcd"} <= set(started)
        assert values["BITCOIN_NETWORK"] == "regtest"

        second = _devstack(stack_dir, "up")
        # Reused, not restarted: the same processes answer on the same endpoints.
        assert _pids(stack_dir) == started
        assert envfile.read(stack_dir / "env") == values
        assert "new world" not in second

        # A stack from before authentication: storage formatted without SASL users.
        (stack_dir / "kafka" / "auth-formatted").unlink()
        third = _devstack(stack_dir, "up")
        assert "Kafka ran without authentication: starting a new world" in third
        rebuilt = envfile.read(stack_dir / "env")
        assert asyncio.run(_topics_as_admin(rebuilt)) >= {t.name for t in ALL_TOPICS}
        started = _pids(stack_dir)
    finally:
        _devstack(stack_dir, "down")
    assert not [name for name, pid in started.items() if _alive(pid)]
    for url_key in ("KAFKA_BOOTSTRAP_SERVERS", "CHAIN_RPC_URL", "BITCOIN_RPC_URL"):
        port = int(values[url_key].rsplit(":", 1)[1].split("/")[0])
        assert not procs.port_open(port), f"{url_key} still answers after down"


def test_a_free_port_is_never_port_zero_nor_one_in_use() -> None:
    """`free_port(0)` once answered 0 (nothing listens on port 0), and starting a fourth service
    process then looped forever looking for a port not yet handed out."""
    fresh = procs.free_port(0)
    assert fresh > 0
    assert not procs.port_open(fresh)
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        taken = listening.getsockname()[1]
        other = procs.free_port(taken)
    assert other not in (0, taken)


def test_each_service_gets_its_own_kafka_principal_and_no_other() -> None:
    """The stack's environment holds the admin's login and every principal's password; a
    service process sees only its own (and the api, which reads no topic, none)."""
    stack = {
        "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1",
        "KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
        "KAFKA_SASL_USERNAME": kafka_acl.ADMIN,
        "KAFKA_SASL_PASSWORD": "admin-secret",
        **{kafka_acl.password_env(name): f"{name}-secret" for name in kafka_acl.PRINCIPALS},
        **{key: f"postgresql://{key}" for key in REQUIRED_KEYS if key.endswith("DATABASE_URL")},
    }
    for spec in services.SERVICES.values():
        env = services.environment(spec, stack, 1)
        secrets = {v for k, v in env.items() if "SECRET" in v.upper() or k.endswith("PASSWORD")}
        if spec.kafka_principal is None:
            assert env["KAFKA_SASL_USERNAME"] == env["KAFKA_SASL_PASSWORD"] == ""
            assert secrets <= {""}, f"{spec.name} gets Kafka passwords: {secrets}"
        else:
            assert env["KAFKA_SASL_USERNAME"] == spec.kafka_principal
            assert secrets - {""} == {f"{spec.kafka_principal}-secret"}, spec.name
