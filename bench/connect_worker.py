"""Kafka Connect standalone running the Debezium JDBC sink connector, as a process of the
benchmark's stack (loopback only): what a team without a db-writer of its own would deploy.

The jars come from Maven Central through the poms in `bench/connect/`: the worker
(connect-runtime + connect-json of the broker's Kafka version) on the classpath, the connector
and its dependencies in a plugin directory of their own, loaded in isolation as Connect loads
any plugin.
"""

from __future__ import annotations

import json
import socket
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from devstack import maven, procs
from devstack.paths import repo_root, stack_dir
from reservesync.settings import KafkaSettings

NAME = "bench-connect"
CONNECTOR = "bench-debezium-jdbc"
GROUP = f"connect-{CONNECTOR}"
"""The consumer group Connect gives a sink connector's tasks."""
POMS = repo_root() / "bench" / "connect"
HEAP = ("-Xms256m", "-Xmx2g")


@dataclass(frozen=True)
class Tuning:
    """The knobs the Debezium JDBC sink's own batching post names, plus Connect's parallelism."""

    tasks: int
    batch_size: int
    """`batch.size`: records per JDBC batch (one prepared statement executed as a batch)."""
    max_poll_records: int
    """The worker's `consumer.max.poll.records`: `batch.size` cannot exceed what one poll gives."""
    rewrite_batched_inserts: bool
    """pgjdbc's `reWriteBatchedInserts`: a JDBC batch sent as multi-row INSERTs."""

    def describe(self) -> str:
        return (
            f"tasks.max={self.tasks}, batch.size={self.batch_size}, "
            f"consumer.max.poll.records={self.max_poll_records}, "
            f"reWriteBatchedInserts={str(self.rewrite_batched_inserts).lower()}"
        )


def home() -> Path:
    path = stack_dir() / "connect"
    path.mkdir(exist_ok=True)
    return path


def ensure_jars() -> tuple[Path, Path]:
    """(the worker's classpath directory, Connect's plugin.path)."""
    libs = maven.copy_dependencies(POMS / "worker.pom.xml", home() / "libs")
    plugins = home() / "plugins"
    plugins.mkdir(exist_ok=True)
    # The worker brings Kafka's jars and Jackson (the same 2.19.0); second copies inside the
    # plugin would shadow them, and Jackson's service modules of the worker then fail to load
    # against the plugin's own ObjectMapper ("Jdk8Module not a subtype").
    maven.copy_dependencies(
        POMS / "plugin.pom.xml",
        plugins / "debezium-jdbc",
        "-DexcludeGroupIds=org.apache.kafka",
        "-DexcludeArtifactIds=jackson-core,jackson-databind,jackson-annotations",
    )
    return libs, plugins


def jdbc_url(postgres_url: str, *, rewrite_batched_inserts: bool) -> tuple[str, str, str]:
    """(JDBC URL, user, password) of a `postgresql://user:password@host:port/db` URL."""
    parts = urlsplit(postgres_url)
    if parts.username is None or parts.password is None:
        raise ValueError("the database URL carries no credentials")
    url = f"jdbc:postgresql://{parts.hostname}:{parts.port}{parts.path}"
    if rewrite_batched_inserts:
        url += "?reWriteBatchedInserts=true"
    return url, parts.username, parts.password


def failure() -> str | None:
    """The trace of a failed connector or task, from the worker's REST API (None if none)."""
    port_file = home() / "rest.port"
    if not port_file.exists():
        return None
    url = f"http://127.0.0.1:{port_file.read_text()}/connectors/{CONNECTOR}/status"
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            status = json.load(response)
    except OSError:
        return None  # not serving yet
    for part in (status.get("connector", {}), *status.get("tasks", [])):
        if part.get("state") == "FAILED":
            return str(part.get("trace", "failed"))
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _properties(path: Path, values: dict[str, str]) -> Path:
    path.write_text("".join(f"{key}={value}\n" for key, value in values.items()))
    return path


def _security() -> dict[str, str]:
    """The worker's Kafka login, the one this process has (the stack's admin): the worker's
    own clients and its connectors' consumers, producers and admin clients alike."""
    settings = KafkaSettings()
    own: dict[str, str] = {"security.protocol": settings.kafka_security_protocol}
    if settings.kafka_security_protocol.startswith("SASL_"):
        password = settings.kafka_sasl_password
        module = (
            "plain.PlainLoginModule"
            if settings.kafka_sasl_mechanism == "PLAIN"
            else "scram.ScramLoginModule"
        )
        own["sasl.mechanism"] = settings.kafka_sasl_mechanism
        own["sasl.jaas.config"] = (
            f"org.apache.kafka.common.security.{module} required "
            f'username="{settings.kafka_sasl_username}" '
            f'password="{password.get_secret_value() if password else ""}";'
        )
    if settings.kafka_ssl_cafile is not None:
        own["ssl.truststore.type"] = "PEM"
        own["ssl.truststore.location"] = str(settings.kafka_ssl_cafile)
    return {
        f"{prefix}{key}": value
        for prefix in ("", "consumer.", "producer.", "admin.")
        for key, value in own.items()
    }


def start(bootstrap: str, database_url: str, topics: list[str], tuning: Tuning) -> int:
    """Start a fresh standalone worker with the connector over `topics` (each named after
    its table, which `collection.name.format=${topic}` maps); returns the JVM's pid."""
    libs, plugins = ensure_jars()
    directory = home()
    rest_port = _free_port()
    (directory / "offsets").unlink(missing_ok=True)
    _write_log_config(directory)
    worker = _worker_properties(directory, bootstrap, rest_port, plugins, tuning)
    connector = _connector_properties(directory, database_url, topics, tuning)
    procs.stop(NAME)
    (directory / "rest.port").write_text(str(rest_port))
    return procs.start(
        NAME,
        [
            "java",
            *HEAP,
            "-XX:+UseG1GC",
            f"-Dlog4j2.configurationFile={directory / 'log4j2.properties'}",
            "-cp",
            f"{libs}/*",
            "org.apache.kafka.connect.cli.ConnectStandalone",
            str(worker),
            str(connector),
        ],
    )


def _write_log_config(directory: Path) -> None:
    (directory / "log4j2.properties").write_text(
        "status = warn\n"
        "appender.file.type = File\n"
        "appender.file.name = file\n"
        f"appender.file.fileName = {directory / 'connect.log'}\n"
        "appender.file.layout.type = PatternLayout\n"
        "appender.file.layout.pattern = [%d] %p %m (%c)%n\n"
        "rootLogger.level = info\n"
        "rootLogger.appenderRef.file.ref = file\n"
    )


def _worker_properties(
    directory: Path, bootstrap: str, rest_port: int, plugins: Path, tuning: Tuning
) -> Path:
    return _properties(
        directory / "worker.properties",
        {
            "bootstrap.servers": bootstrap,
            "listeners": f"http://127.0.0.1:{rest_port}",
            "plugin.path": str(plugins),
            # Every plugin jar has a ServiceLoader manifest: no slow reflective scan at start.
            "plugin.discovery": "service_load",
            "offset.storage.file.filename": str(directory / "offsets"),
            # How often a sink's consumed offsets are committed: the benchmark's clock reads
            # them, so a short interval keeps its resolution fine.
            "offset.flush.interval.ms": "1000",
            "key.converter": "org.apache.kafka.connect.json.JsonConverter",
            "key.converter.schemas.enable": "true",
            "value.converter": "org.apache.kafka.connect.json.JsonConverter",
            "value.converter.schemas.enable": "true",
            "consumer.max.poll.records": str(tuning.max_poll_records),
            # A poll must be able to hold `max.poll.records` records of about 1.5 kB each.
            "consumer.max.partition.fetch.bytes": str(8 * 1024 * 1024),
            "consumer.fetch.max.bytes": str(64 * 1024 * 1024),
            **_security(),
        },
    )


def _connector_properties(
    directory: Path, database_url: str, topics: list[str], tuning: Tuning
) -> Path:
    url, user, password = jdbc_url(
        database_url, rewrite_batched_inserts=tuning.rewrite_batched_inserts
    )
    return _properties(
        directory / "connector.properties",
        {
            "name": CONNECTOR,
            "connector.class": "io.debezium.connector.jdbc.JdbcSinkConnector",
            "tasks.max": str(tuning.tasks),
            "topics": ",".join(topics),
            "connection.url": url,
            "connection.username": user,
            "connection.password": password,
            "insert.mode": "upsert",
            # The record key is a struct of the table's natural key columns.
            "primary.key.mode": "record_key",
            "schema.evolution": "none",
            "collection.name.format": "${topic}",
            "batch.size": str(tuning.batch_size),
            "use.time.zone": "UTC",
        },
    )


def stop() -> None:
    procs.stop(NAME, timeout=30)


def log_tail(lines: int = 30) -> str:
    path = home() / "connect.log"
    text = path.read_text(errors="replace") if path.exists() else ""
    return "\n".join(text.splitlines()[-lines:])
