"""Bring the whole local stack up or down, and record its endpoints in `.stack/env`."""

from __future__ import annotations

import asyncio
import json
import secrets
import shutil
import time
from collections.abc import Callable
from typing import TypeVar

from reservesync import kafka_acl

from devstack import bitcoin, chain, database, envfile, kafka, postgres, procs, services
from devstack.deploy import DeploymentRecord, deploy, still_deployed
from devstack.paths import env_file, oracle_dir, run_dir, stack_dir
from devstack.procs import StackError

DEFAULT_PORTS = {
    "kafka": 19092,
    "kafka_controller": 19093,
    "postgres": 15432,
    "chain": 18545,
    "bitcoin_rpc": 18334,
    "bitcoin_p2p": 18444,
}

BITCOIN_RPC_USER = "reservesync"
Progress = Callable[[str], None]
T = TypeVar("T")


def _ports() -> dict[str, int]:
    """Ports survive restarts of the stack, so URLs in a running shell stay valid."""
    path = run_dir() / "ports.json"
    chosen: dict[str, int] = json.loads(path.read_text()) if path.exists() else {}
    running = {
        "kafka": procs.running_pid(kafka.NAME) is not None,
        "kafka_controller": procs.running_pid(kafka.NAME) is not None,
        "postgres": postgres.running(),
        "chain": procs.running_pid(chain.NAME) is not None,
        "bitcoin_rpc": procs.running_pid(bitcoin.NAME) is not None,
        "bitcoin_p2p": procs.running_pid(bitcoin.NAME) is not None,
    }
    for name, default in DEFAULT_PORTS.items():
        if name in chosen and running[name]:
            continue
        wanted = chosen.get(name, default)
        taken = set(chosen.values()) - {wanted}
        port = procs.free_port(wanted)
        while port in taken:
            port = procs.free_port(0)
        chosen[name] = port
    path.write_text(json.dumps(chosen))
    return chosen


def _kafka_passwords(secret: dict[str, str]) -> dict[str, str]:
    return {name: secret[f"kafka:{name}"] for name in (kafka_acl.ADMIN, *kafka_acl.PRINCIPALS)}


def _secrets() -> dict[str, str]:
    path = run_dir() / "secrets.json"
    stored: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    kafka_users = [f"kafka:{name}" for name in (kafka_acl.ADMIN, *kafka_acl.PRINCIPALS)]
    bitcoin_keys = ("bitcoin_rpc", "bitcoin_mining_key")
    for name in ("admin", *database.ROLES, "field_key", *bitcoin_keys, *kafka_users):
        stored.setdefault(
            name,
            secrets.token_hex(32)
            if name in ("field_key", "bitcoin_mining_key")
            else secrets.token_urlsafe(18),
        )
    path.write_text(json.dumps(stored))
    path.chmod(0o600)
    return stored


def up(progress: Progress = print) -> dict[str, str]:
    started = time.monotonic()
    ports = _ports()
    secret = _secrets()

    def step(name: str, action: Callable[[], T]) -> T:
        t0 = time.monotonic()
        result = action()
        progress(f"  {name:<10} ready in {time.monotonic() - t0:5.1f}s")
        return result

    progress("bringing up the local stack (Kafka, PostgreSQL, Hardhat, btcd)")
    kafka_passwords = _kafka_passwords(secret)
    _forget_a_lost_world(kafka_passwords[kafka_acl.ADMIN], progress)
    bootstrap = step(
        "kafka", lambda: kafka.up(ports["kafka"], ports["kafka_controller"], kafka_passwords)
    )
    admin_url = step("postgres", lambda: postgres.up(ports["postgres"], secret["admin"]))
    asyncio.run(database.provision(admin_url, {role: secret[role] for role in database.ROLES}))
    rpc_url, _ = step("chain", lambda: chain.up(ports["chain"]))
    record = step("contracts", lambda: _deployment(rpc_url))
    mining_wif, mining_address = bitcoin.mining_key(secret["bitcoin_mining_key"])
    bitcoin_url = step(
        "btcd",
        lambda: bitcoin.up(
            ports["bitcoin_rpc"],
            ports["bitcoin_p2p"],
            BITCOIN_RPC_USER,
            secret["bitcoin_rpc"],
            mining_address,
        ),
    )

    pg = ports["postgres"]
    values = envfile.update(
        {
            **kafka.client_env(bootstrap, kafka_passwords),
            "POSTGRES_ADMIN_URL": admin_url,
            **{
                key: database.url(role, secret[role], pg) for role, key in database.ENV_KEYS.items()
            },
            "FIELD_ENCRYPTION_KEY": secret["field_key"],
            "CHAIN_RPC_URL": rpc_url,
            "CHAIN_WS_URL": chain.websocket_url(rpc_url),
            **record.env(),
            "BITCOIN_RPC_URL": bitcoin_url,
            "BITCOIN_RPC_USER": BITCOIN_RPC_USER,
            "BITCOIN_RPC_PASSWORD": secret["bitcoin_rpc"],
            "BITCOIN_NETWORK": bitcoin.NETWORK,
            "BITCOIN_MINING_ADDRESS": mining_address,
            "BITCOIN_MINING_WIF": mining_wif,
        }
    )
    kafka.use_admin_credentials(values)
    progress(f"local stack up in {time.monotonic() - started:.1f}s; endpoints in {env_file()}")
    return values


def _forget_a_lost_world(kafka_admin_password: str, progress: Progress) -> None:
    """Start a new world (empty topics and database) when the old one cannot be carried on."""
    chain_lost = procs.running_pid(chain.NAME) is None
    if (chain_lost or not bitcoin.has_chain()) and _has_state():
        # Hardhat keeps its chain in memory: without it, topics and tables describe a chain
        # that no longer exists (and a listener checkpoint would point past the new head).
        # The same holds for a lost Bitcoin chain; and a new EVM world gets a new Bitcoin one.
        progress("  a chain is gone: starting a new world (empty topics and database)")
        _forget_state()
    if kafka.needs_new_storage(kafka_admin_password):
        # Topics of a broker without authentication cannot be carried over (and the database
        # describes them), so the stack starts a new world, as it does without its chain.
        progress("  Kafka ran without authentication: starting a new world with SASL and ACLs")
        services.stop(prefix="svc")
        _forget_state()


def running_services() -> list[str]:
    """The service processes of this stack that are alive (a demo or a drill is using it)."""
    return sorted(path.stem for path in run_dir().glob("svc-*.pid") if procs.running_pid(path.stem))


def new_world(progress: Progress = print, *, force: bool = False) -> dict[str, str]:
    """A fresh chain with empty topics and database (what `make demo` starts from, so its
    figures are the scenario's alone): without its chain, `up` starts a new world.

    A stack whose services run belongs to someone (a demo, a drill): without `force` it is
    left alone and `StackError` says so."""
    busy = running_services()
    if busy and not force:
        raise StackError(
            f"the stack in {stack_dir()} is in use ({', '.join(busy)} running); a new world "
            "would stop them and wipe its data. Stop it first (make stack-down) or pass --force"
        )
    services.stop(prefix="svc")
    chain.down()
    bitcoin.down()
    bitcoin.wipe()
    return up(progress)


def _deployment(rpc_url: str) -> DeploymentRecord:
    path = stack_dir() / "deployment.json"
    if path.exists():
        record = DeploymentRecord.model_validate_json(path.read_text())
        if still_deployed(rpc_url, record):
            return record
    record = deploy(rpc_url, chain.compile_contracts())
    path.write_text(record.model_dump_json(indent=2))
    return record


def _has_state() -> bool:
    return (stack_dir() / "kafka" / "data").exists() or postgres.data_dir_marker().exists()


def _forget_state() -> None:
    bitcoin.down()
    bitcoin.wipe()
    kafka.down()
    kafka.wipe()
    postgres.down()
    postgres.wipe()
    # Operations the oracle of the old world had not delivered belong to that world.
    shutil.rmtree(oracle_dir(), ignore_errors=True)


def restart_kafka() -> None:
    """Stop the broker and start it again on the same ports (clients must ride it out)."""
    ports = _ports()
    kafka.down()
    kafka.up(ports["kafka"], ports["kafka_controller"], _kafka_passwords(_secrets()))


def down(progress: Progress = print) -> None:
    for prefix in ("svc", "test"):
        services.stop(prefix=prefix)
    chain.down()
    bitcoin.down()
    kafka.down()
    postgres.down()
    envfile.update(dict.fromkeys(envfile.read(), ""))
    progress("local stack stopped")


def versions() -> dict[str, str]:
    libs = stack_dir() / "kafka" / "libs"
    kafka_jar = next(iter(sorted(libs.glob("kafka_2.13-*.jar"))), None) if libs.exists() else None
    return {
        "kafka": kafka_jar.stem.removeprefix("kafka_2.13-") if kafka_jar else "not resolved",
        "postgres": postgres.version(),
        "hardhat": chain.hardhat_version(),
        "btcd": bitcoin.version(),
    }
