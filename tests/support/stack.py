"""The components a test talks to: Kafka, PostgreSQL, an EVM node and a Bitcoin node (regtest),
always real.

With a Docker engine, testcontainers starts them; without one (these machines), the local
stack does (`devstack`, idempotent). If neither can, the run fails with the reason: a test that
claims to talk to Kafka, Postgres or a chain never runs against a fake.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field

from devstack import bitcoin, chain, database, envfile, procs, stack
from devstack.deploy import DeploymentRecord, deploy
from devstack.kafka import ADMIN_KEYS
from devstack.paths import stack_dir
from devstack.regtest import BitcoinNode
from reservesync import kafka_acl

BITCOIN_CORE_IMAGE = "bitcoin/bitcoin:28.1"
"""The Bitcoin node of compose and of container test runs (the local stack runs btcd)."""


@dataclass(frozen=True)
class Endpoints:
    kafka_bootstrap_servers: str
    admin_url: str
    database_urls: dict[str, str]  # role -> URL
    rpc_url: str
    deployment: DeploymentRecord
    field_encryption_key: str
    bitcoin: BitcoinNode
    kafka_credentials: dict[str, str] = field(default_factory=dict)
    """The admin's SASL settings and each principal's password (`.stack/env` keys); empty for
    a broker without authentication. The test process itself connects as the admin."""

    @property
    def migrator_url(self) -> str:
        return self.database_urls["rs_migrator"]

    def kafka_passwords(self) -> dict[str, str]:
        """principal -> password, the admin's included (to start a second broker alike)."""
        creds = self.kafka_credentials
        found = {
            name: creds[kafka_acl.password_env(name)]
            for name in kafka_acl.PRINCIPALS
            if kafka_acl.password_env(name) in creds
        }
        found[kafka_acl.ADMIN] = creds["KAFKA_SASL_PASSWORD"]
        return found

    def env(self) -> dict[str, str]:
        """The environment a service process gets (its DATABASE_URL is set per service)."""
        return {
            "KAFKA_BOOTSTRAP_SERVERS": self.kafka_bootstrap_servers,
            **self.kafka_credentials,
            **{database.ENV_KEYS[role]: url for role, url in self.database_urls.items()},
            "CHAIN_RPC_URL": self.rpc_url,
            "CHAIN_WS_URL": chain.websocket_url(self.rpc_url),
            "FIELD_ENCRYPTION_KEY": self.field_encryption_key,
            **self.deployment.env(),
        }


def docker_engine_answers() -> bool:
    try:
        import docker

        docker.from_env(timeout=3).ping()
    except Exception:
        return False
    return True


@contextlib.contextmanager
def local_stack() -> Iterator[Endpoints]:
    """Bring the local stack up (or reuse it); stop it afterwards only if this run started it."""
    was_running = procs.running_pid(chain.NAME) is not None and bool(envfile.read())
    try:
        values = stack.up(progress=lambda line: print(line, flush=True))
    except Exception as exc:
        raise RuntimeError(
            f"the local stack could not be brought up, so tests that need Kafka, PostgreSQL or "
            f"the chain cannot run: {exc}"
        ) from exc
    record = DeploymentRecord.model_validate_json((stack_dir() / "deployment.json").read_text())
    try:
        yield Endpoints(
            kafka_bootstrap_servers=values["KAFKA_BOOTSTRAP_SERVERS"],
            admin_url=values["POSTGRES_ADMIN_URL"],
            database_urls={role: values[key] for role, key in database.ENV_KEYS.items()},
            rpc_url=values["CHAIN_RPC_URL"],
            deployment=record,
            field_encryption_key=values["FIELD_ENCRYPTION_KEY"],
            bitcoin=BitcoinNode.from_env(values),
            kafka_credentials={key: values[key] for key in _kafka_keys() if key in values},
        )
    finally:
        if not was_running:
            stack.down(progress=lambda line: print(line, flush=True))


def _kafka_keys() -> list[str]:
    return [*ADMIN_KEYS, *map(kafka_acl.password_env, kafka_acl.PRINCIPALS)]


@contextlib.contextmanager
def container_stack() -> Iterator[Endpoints]:
    """Kafka, Postgres 16, anvil and Bitcoin Core (regtest) in containers, provisioned like the
    local stack."""
    from testcontainers.core.container import DockerContainer
    from testcontainers.kafka import KafkaContainer
    from testcontainers.postgres import PostgresContainer

    bitcoin_password = secrets.token_urlsafe(18)

    with (
        KafkaContainer("apache/kafka:4.1.1").with_kraft() as kafka,
        PostgresContainer("postgres:16", username="reservesync_admin") as pg,
        DockerContainer("ghcr.io/foundry-rs/foundry:latest")
        .with_command("anvil --host 0.0.0.0 --chain-id 31337 --block-time 1")
        .with_exposed_ports(8545) as anvil,
        DockerContainer(BITCOIN_CORE_IMAGE)
        .with_command(
            f"-regtest=1 -server=1 -rpcbind=0.0.0.0 -rpcallowip=0.0.0.0/0 "
            f"-rpcuser=reservesync -rpcpassword={bitcoin_password} -fallbackfee=0.0001"
        )
        .with_exposed_ports(18443) as bitcoind,
    ):
        host, port = pg.get_container_host_ip(), int(pg.get_exposed_port(5432))
        admin = f"postgresql://reservesync_admin:{pg.password}@{host}:{port}/postgres"
        passwords = {role: secrets.token_urlsafe(18) for role in database.ROLES}
        asyncio.run(database.provision(admin, passwords))
        rpc = f"http://{anvil.get_container_host_ip()}:{anvil.get_exposed_port(8545)}"
        procs.wait_for("anvil", lambda: chain.answers(rpc), 60, "anvil")
        btc = f"http://{bitcoind.get_container_host_ip()}:{bitcoind.get_exposed_port(18443)}"
        procs.wait_for(
            "bitcoind",
            lambda: bitcoin.answers(btc, "reservesync", bitcoin_password),
            60,
            "bitcoind",
        )
        mining_wif, mining_address = bitcoin.mining_key(secrets.token_hex(32))
        bootstrap = kafka.get_bootstrap_server()
        from reservesync.kafka import ensure_topics
        from reservesync.settings import KafkaSettings

        asyncio.run(ensure_topics(KafkaSettings(kafka_bootstrap_servers=bootstrap)))
        yield Endpoints(
            kafka_bootstrap_servers=bootstrap,
            admin_url=admin,
            database_urls={
                role: database.url(role, passwords[role], port, host) for role in database.ROLES
            },
            rpc_url=rpc,
            deployment=deploy(rpc, chain.compile_contracts()),
            field_encryption_key=secrets.token_hex(32),
            bitcoin=BitcoinNode(
                btc, "reservesync", bitcoin_password, "regtest", mining_wif, mining_address
            ),
        )
