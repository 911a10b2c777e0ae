"""Apache Kafka 4 in KRaft combined mode, from jars Maven resolves out of Maven Central.

Clients authenticate with SASL SCRAM-SHA-512 (plaintext: the broker listens on loopback only)
and the StandardAuthorizer grants each service principal its row of `reservesync.kafka_acl`;
`admin` is the super user the stack itself, the tests and the benches connect as. The
controller listener takes only the admin, by SASL PLAIN (SCRAM credentials live in the
metadata the controller serves, so they cannot guard the controller itself).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import shutil
import subprocess
import uuid
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path

from reservesync import kafka_acl
from reservesync.kafka import ensure_topics
from reservesync.settings import KafkaSettings

from devstack import maven, procs
from devstack.paths import repo_root, stack_dir

NAME = "kafka"


def _home() -> Path:
    path = stack_dir() / "kafka"
    path.mkdir(exist_ok=True)
    return path


def ensure_jars() -> Path:
    """The broker's runtime jars (resolved again only when the pom changes)."""
    return maven.copy_dependencies(repo_root() / "stack" / "kafka" / "pom.xml", _home() / "libs")


MECHANISM = "SCRAM-SHA-512"
PROTOCOL = "SASL_PLAINTEXT"


def _jaas(module: str, password: str, *users: str) -> str:
    return (
        f"org.apache.kafka.common.security.{module} required "
        f'username="{kafka_acl.ADMIN}" password="{password}"{"".join(users)};'
    )


def _write_config(port: int, controller_port: int, admin_password: str) -> Path:
    home = _home()
    (home / "log4j2.properties").write_text(
        "status = warn\n"
        "appender.file.type = File\n"
        "appender.file.name = file\n"
        f"appender.file.fileName = {home / 'server.log'}\n"
        "appender.file.layout.type = PatternLayout\n"
        "appender.file.layout.pattern = [%d] %p %m (%c)%n\n"
        "rootLogger.level = info\n"
        "rootLogger.appenderRef.file.ref = file\n"
    )
    config = home / "server.properties"
    scram = _jaas("scram.ScramLoginModule", admin_password)
    plain = _jaas("plain.PlainLoginModule", admin_password, f' user_admin="{admin_password}"')
    config.touch()
    config.chmod(0o600)  # it holds the admin's password
    config.write_text(
        "process.roles=broker,controller\n"
        "node.id=1\n"
        f"controller.quorum.voters=1@127.0.0.1:{controller_port}\n"
        f"listeners=SASL_PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}\n"
        f"advertised.listeners=SASL_PLAINTEXT://127.0.0.1:{port}\n"
        "controller.listener.names=CONTROLLER\n"
        "listener.security.protocol.map=SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:SASL_PLAINTEXT\n"
        "inter.broker.listener.name=SASL_PLAINTEXT\n"
        f"sasl.enabled.mechanisms={MECHANISM}\n"
        f"sasl.mechanism.inter.broker.protocol={MECHANISM}\n"
        f"listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config={scram}\n"
        "sasl.mechanism.controller.protocol=PLAIN\n"
        "listener.name.controller.sasl.enabled.mechanisms=PLAIN\n"
        f"listener.name.controller.plain.sasl.jaas.config={plain}\n"
        "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer\n"
        f"super.users=User:{kafka_acl.ADMIN}\n"
        "allow.everyone.if.no.acl.found=false\n"
        f"log.dirs={home / 'data'}\n"
        "num.partitions=12\n"
        "offsets.topic.replication.factor=1\n"
        "transaction.state.log.replication.factor=1\n"
        "transaction.state.log.min.isr=1\n"
        "group.initial.rebalance.delay.ms=0\n"
        "auto.create.topics.enable=false\n"
        "log.cleaner.enable=true\n"
        "message.max.bytes=2097152\n"
    )
    return config


def _java(libs: Path, *args: str) -> list[str]:
    home = _home()
    return [
        "java",
        "-Xms256m",
        "-Xmx768m",
        "-XX:+UseG1GC",
        f"-Dlog4j2.configurationFile={home / 'log4j2.properties'}",
        "-cp",
        f"{libs}/*",
        *args,
    ]


def _auth_marker() -> Path:
    return _home() / "auth-formatted"


def _fingerprint(admin_password: str) -> str:
    return hashlib.sha256(f"{MECHANISM}:{admin_password}".encode()).hexdigest()


def needs_new_storage(admin_password: str) -> bool:
    """Storage formatted without authentication (a stack from before SASL) or for another
    admin password: its broker would refuse the admin, so the stack starts a new world."""
    if not (_home() / "data" / "meta.properties").exists():
        return False
    marker = _auth_marker()
    return not marker.exists() or marker.read_text().strip() != _fingerprint(admin_password)


def up(port: int, controller_port: int, passwords: Mapping[str, str]) -> str:
    """Start the broker (or find it running), create the topics, the service users and their
    ACLs; returns bootstrap servers. `passwords`: principal -> password, the admin's included."""
    bootstrap = f"127.0.0.1:{port}"
    admin_password = passwords[kafka_acl.ADMIN]
    if procs.running_pid(NAME) is None:
        if shutil.which("java") is None:
            raise procs.StackError("Java 17+ is needed to run Kafka")
        libs = ensure_jars()
        config = _write_config(port, controller_port, admin_password)
        if not (_home() / "data" / "meta.properties").exists():
            _format(libs, config, admin_password)
        procs.start(NAME, _java(libs, "kafka.Kafka", str(config)))
    procs.wait_for("Kafka", lambda: procs.port_open(port), 90, NAME)
    settings = admin_settings(client_env(bootstrap, passwords))
    users = {name: pw for name, pw in passwords.items() if name != kafka_acl.ADMIN}
    asyncio.run(_with_retry(lambda: ensure_topics(settings)))
    asyncio.run(_with_retry(lambda: kafka_acl.apply(settings, users)))
    return bootstrap


def _format(libs: Path, config: Path, admin_password: str) -> None:
    # The admin must exist before the broker starts: it is the broker's own inter-broker
    # identity. The services' users are created through the admin API afterwards.
    scram = f"{MECHANISM}=[name={kafka_acl.ADMIN},password={admin_password}]"
    subprocess.run(
        _java(
            libs,
            "kafka.tools.StorageTool",
            "format",
            "-t",
            _cluster_id(),
            "-c",
            str(config),
            "--add-scram",
            scram,
        ),
        check=True,
        capture_output=True,
    )
    _auth_marker().write_text(_fingerprint(admin_password))


def client_env(bootstrap: str, passwords: Mapping[str, str]) -> dict[str, str]:
    """The `.stack/env` lines of Kafka: the admin's connection (what tools and tests use) and
    each service principal's password (`services.environment` hands each its own)."""
    return {
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "KAFKA_SECURITY_PROTOCOL": PROTOCOL,
        "KAFKA_SASL_MECHANISM": MECHANISM,
        "KAFKA_SASL_USERNAME": kafka_acl.ADMIN,
        "KAFKA_SASL_PASSWORD": passwords[kafka_acl.ADMIN],
        **{
            kafka_acl.password_env(name): password
            for name, password in passwords.items()
            if name != kafka_acl.ADMIN
        },
    }


ADMIN_KEYS = (
    "KAFKA_SECURITY_PROTOCOL",
    "KAFKA_SASL_MECHANISM",
    "KAFKA_SASL_USERNAME",
    "KAFKA_SASL_PASSWORD",
)


def admin_settings(env: Mapping[str, str]) -> KafkaSettings:
    """Settings of a client connecting as the admin, from `.stack/env` values."""
    keys = ("KAFKA_BOOTSTRAP_SERVERS", *ADMIN_KEYS)
    return KafkaSettings.model_validate({key.lower(): env[key] for key in keys if key in env})


def use_admin_credentials(env: Mapping[str, str]) -> None:
    """Make this process a Kafka admin tool: every `KafkaSettings()` it builds from here on
    (the demo, the tests, the benches) connects as the admin, as `source .stack/env` would."""
    os.environ.update({key: env[key] for key in ADMIN_KEYS if key in env})


async def _with_retry(action: Callable[[], Awaitable[None]]) -> None:
    # The port opens a moment before the controller has elected itself and accepts admin calls.
    for attempt in range(60):
        try:
            await action()
            return
        except Exception:
            if attempt == 59:
                raise
            await asyncio.sleep(1)


def _cluster_id() -> str:
    """A random KRaft cluster id; one starting with "-" would be read as an option."""
    while True:
        candidate = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not candidate.startswith("-"):
            return candidate


def down() -> None:
    procs.stop(NAME, timeout=30)


def wipe() -> None:
    shutil.rmtree(_home() / "data", ignore_errors=True)
    _auth_marker().unlink(missing_ok=True)
