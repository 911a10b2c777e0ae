"""Apache Kafka 4 in KRaft combined mode, from jars Maven resolves out of Maven Central."""

from __future__ import annotations

import asyncio
import base64
import shutil
import subprocess
import uuid
from pathlib import Path

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


def _write_config(port: int, controller_port: int) -> Path:
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
    config.write_text(
        "process.roles=broker,controller\n"
        "node.id=1\n"
        f"controller.quorum.voters=1@127.0.0.1:{controller_port}\n"
        f"listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}\n"
        f"advertised.listeners=PLAINTEXT://127.0.0.1:{port}\n"
        "controller.listener.names=CONTROLLER\n"
        "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT\n"
        "inter.broker.listener.name=PLAINTEXT\n"
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


def up(port: int, controller_port: int) -> str:
    """Start the broker (or find it running) and create the topics; returns bootstrap servers."""
    bootstrap = f"127.0.0.1:{port}"
    if procs.running_pid(NAME) is None:
        if shutil.which("java") is None:
            raise procs.StackError("Java 17+ is needed to run Kafka")
        libs = ensure_jars()
        config = _write_config(port, controller_port)
        data = _home() / "data"
        if not (data / "meta.properties").exists():
            cluster_id = _cluster_id()
            subprocess.run(
                _java(
                    libs, "kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(config)
                ),
                check=True,
                capture_output=True,
            )
        procs.start(NAME, _java(libs, "kafka.Kafka", str(config)))
    procs.wait_for("Kafka", lambda: procs.port_open(port), 90, NAME)
    settings = KafkaSettings(kafka_bootstrap_servers=bootstrap)
    asyncio.run(_topics_with_retry(settings))
    return bootstrap


async def _topics_with_retry(settings: KafkaSettings) -> None:
    # The port opens a moment before the controller has elected itself and accepts admin calls.
    for attempt in range(60):
        try:
            await ensure_topics(settings)
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
