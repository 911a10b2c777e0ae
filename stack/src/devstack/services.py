"""The services as local processes over the stack, each with its own database role: the five
of the pipeline, and the bitcoin-listener, which follows the stack's Bitcoin node."""

from __future__ import annotations

import json
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from reservesync import kafka_acl

from devstack import envfile, procs
from devstack.database import ENV_KEYS
from devstack.paths import log_dir, run_dir


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    module: str
    port: int
    database_url_key: str | None = None
    url_key: str | None = None
    """The `.stack/env` key of its base URL, for services that serve HTTP routes."""
    kafka_principal: str | None = None
    """Its row in `reservesync.kafka_acl` (None: it talks to no Kafka)."""

    def process(self, prefix: str = "svc") -> str:
        return f"{prefix}-{self.name}"


SERVICES: dict[str, ServiceSpec] = {
    spec.name: spec
    for spec in (
        ServiceSpec("chain-listener", "chain_listener", 19101, kafka_principal="chain-listener"),
        ServiceSpec("db-writer", "db_writer", 19102, ENV_KEYS["rs_writer"], None, "db-writer"),
        ServiceSpec(
            "oracle-logger",
            "oracle_logger",
            18081,
            ENV_KEYS["rs_oracle_logger"],
            "ORACLE_LOGGER_URL",
            "oracle-logger",
        ),
        ServiceSpec(
            "health", "health_monitor", 18082, ENV_KEYS["rs_health"], "HEALTH_URL", "health"
        ),
        ServiceSpec("api", "realtime_api", 18083, ENV_KEYS["rs_api"], "API_URL"),
        ServiceSpec(
            "bitcoin-listener", "bitcoin_listener", 19103, kafka_principal="bitcoin-listener"
        ),
    )
}
PIPELINE = ("chain-listener", "db-writer", "oracle-logger", "health", "api")
"""The five services of SPEC's shape (the seed's pipeline had them too); the bitcoin-listener
joins them where the reserves are judged against Bitcoin itself."""
PRIVATE_TO_TOOLS = ("BITCOIN_MINING_WIF",)
"""Keys of the stack's environment no service needs: the regtest mining key spends coins."""


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=1) as response:  # noqa: S310
            return bool(response.status == 200)
    except OSError:
        return False


def probe(name: str, path: str = "/readyz", *, prefix: str = "svc") -> tuple[int, str]:
    """(HTTP status, body) of one probe of a running service: for a worker, the one line its
    heartbeat gives (`db-writer ok; last loop 0.2 s ago; partitions=12 ...`)."""
    port = int((run_dir() / f"{SERVICES[name].process(prefix)}.port").read_text())
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as answer:
            return answer.status, answer.read().decode().strip()
    except urllib.error.HTTPError as refused:
        return refused.code, refused.read().decode().strip()
    except (urllib.error.URLError, OSError) as unanswered:
        # Not answering (yet, or any more) is an answer too: status 0 and why.
        return 0, f"no answer: {unanswered}"


def _unassigned_port(preferred: int, own: Path) -> int:
    """A free port no other service process of this stack was given (one just started may
    not be listening yet, so "nothing answers" is not enough)."""
    taken = {
        int(path.read_text())
        for path in run_dir().glob("*.port")
        if path != own and procs.running_pid(path.stem) is not None
    }
    port = procs.free_port(preferred)
    while port in taken:
        port = procs.free_port(0)
    return port


def environment(spec: ServiceSpec, stack: Mapping[str, str], port: int) -> dict[str, str]:
    env = dict(stack)
    if spec.database_url_key:
        env["DATABASE_URL"] = stack[spec.database_url_key]
    else:
        env.pop("DATABASE_URL", None)  # least privilege: no database, no credentials
    if spec.url_key:
        env["HTTP_PORT"] = str(port)
    else:
        env["METRICS_PORT"] = str(port)
    env.update(_kafka_identity(spec, stack))
    # The oracle's address and key are for the oracle-logger, and health, which reads the
    # oracle itself, alone.
    private = spec.name not in ("oracle-logger", "health")
    return {
        k: v
        for k, v in env.items()
        if "ADMIN" not in k
        and k not in PRIVATE_TO_TOOLS
        and not (private and k.startswith("ORACLE_"))
    }


def _kafka_identity(spec: ServiceSpec, stack: Mapping[str, str]) -> dict[str, str]:
    """The service's own Kafka principal instead of the admin's (tools and tests are the
    admin); empty values blank out the admin's credentials inherited from this process."""
    identity = dict.fromkeys(map(kafka_acl.password_env, kafka_acl.PRINCIPALS), "")
    if "KAFKA_SASL_USERNAME" not in stack:
        return identity  # a broker without authentication (a container stack)
    if spec.kafka_principal is None:
        # No Kafka use, no Kafka credentials.
        return {**identity, "KAFKA_SASL_USERNAME": "", "KAFKA_SASL_PASSWORD": ""}
    key = kafka_acl.password_env(spec.kafka_principal)
    if key not in stack:
        raise procs.StackError(f"{key} is missing from the stack's environment (make stack-up)")
    return {
        **identity,
        "KAFKA_SASL_USERNAME": spec.kafka_principal,
        "KAFKA_SASL_PASSWORD": stack[key],
    }


PRODUCERS = ("chain-listener", "db-writer", "oracle-logger", "bitcoin-listener")


def producer_probes(prefix: str = "svc") -> dict[str, str]:
    """The probe URLs of the producers of this prefix that run with a probe port: what health
    polls for their heartbeats (`HEALTH_PRODUCERS`)."""
    found = {}
    for name in PRODUCERS:
        process = SERVICES[name].process(prefix)
        port_file = run_dir() / f"{process}.port"
        if procs.running_pid(process) is not None and port_file.exists():
            port = int(port_file.read_text() or 0)
            if port:
                found[name] = f"http://127.0.0.1:{port}"
    return found


def start(
    names: Iterable[str] = SERVICES,
    overrides: Mapping[str, str] | None = None,
    *,
    stack: Mapping[str, str] | None = None,
    prefix: str = "svc",
) -> dict[str, str]:
    """Start the named services (those already running are left alone); returns their URLs.

    `stack` is the environment of the components (default: `.stack/env`, whose URL keys are
    then updated); `prefix` names the processes, so tests and the demo never share one.
    """
    publish = stack is None
    stack = envfile.read() if stack is None else stack
    if "KAFKA_BOOTSTRAP_SERVERS" not in stack:
        raise procs.StackError("the local stack is not up (run `make stack-up`)")
    urls: dict[str, str] = {}
    for name in names:
        launch = _Launch(SERVICES[name], stack, overrides or {}, prefix)
        if procs.running_pid(launch.process) is None:
            launch.start(launch.last_port() or launch.spec.port)
        port = launch.ready()
        if launch.spec.url_key:
            urls[launch.spec.url_key] = f"http://127.0.0.1:{port}"
    if publish:
        envfile.update(urls)
    return urls


READY_WITHIN_S = 60.0


class _Launch:
    """One service process: started on a port no other service of the stack holds, and ready
    only when *it* answers there (not whatever else listens on the port)."""

    def __init__(
        self, spec: ServiceSpec, stack: Mapping[str, str], overrides: Mapping[str, str], prefix: str
    ) -> None:
        self.spec = spec
        self.stack = stack
        self.overrides = overrides
        self.prefix = prefix
        self.process = spec.process(prefix)
        self.port_file = run_dir() / f"{self.process}.port"
        self.log_file = log_dir() / f"{self.process}.log"
        self.port_key = "HTTP_PORT" if spec.url_key else "METRICS_PORT"
        self.log_offset = 0

    def last_port(self) -> int:
        """The port this service had before (0: none): a restarted service keeps its address
        when it can, as it would behind a compose or Kubernetes Service, so its clients find
        it again."""
        try:
            return int(self.port_file.read_text())
        except (OSError, ValueError):
            return 0

    def start(self, preferred: int) -> None:
        port = _unassigned_port(preferred, self.port_file)
        env = {**environment(self.spec, self.stack, port), **self.overrides}
        if self.spec.name == "health" and "HEALTH_PRODUCERS" not in env:
            env["HEALTH_PRODUCERS"] = json.dumps(producer_probes(self.prefix))
        # Overrides may move a worker's probe port, or turn it off with 0.
        self.port_file.write_text(env.get(self.port_key, "0"))
        self.log_offset = self.log_file.stat().st_size if self.log_file.exists() else 0
        procs.start(self.process, [sys.executable, "-m", self.spec.module], env=env)

    def ready(self) -> int:
        """The port it serves on, once it answers /healthz from its own socket (workers answer
        on their metrics port from the first second, their heartbeat saying "starting"). A
        port another process took between choosing and binding is chosen again."""
        deadline = time.monotonic() + READY_WITHIN_S
        while True:
            port = int(self.port_file.read_text())
            pid = procs.running_pid(self.process)
            if pid is not None and (not port or _ours(pid, port)):
                return port
            if pid is None:
                if not self._lost_the_port() or self.port_key in self.overrides:
                    raise procs.StackError(f"{self.spec.name} exited; {self._tail()}")
                self.start(0)
            elif time.monotonic() > deadline:
                raise procs.StackError(
                    f"{self.spec.name} did not come up within {READY_WITHIN_S:.0f}s; {self._tail()}"
                )
            time.sleep(0.2)

    def _written(self) -> str:
        if not self.log_file.exists():
            return ""
        with self.log_file.open("rb") as log:
            log.seek(self.log_offset)
            return log.read().decode(errors="replace")

    def _lost_the_port(self) -> bool:
        return "address already in use" in self._written().lower()

    def _tail(self) -> str:
        lines = self._written().splitlines()[-20:]
        return f"last log lines ({self.log_file}):\n" + "\n".join(lines)


def _ours(pid: int, port: int) -> bool:
    return procs.listens(pid, port) and _healthy(f"http://127.0.0.1:{port}")


def stop(names: Iterable[str] = SERVICES, *, prefix: str = "svc") -> None:
    for name in names:
        spec = SERVICES[name]
        procs.stop(spec.process(prefix))
        if spec.url_key and prefix == "svc":
            envfile.update({spec.url_key: ""})


def kill(name: str, *, prefix: str = "svc") -> None:
    """SIGKILL, no goodbye: what a crash or an OOM kill looks like."""
    procs.kill(SERVICES[name].process(prefix))


def running(name: str, *, prefix: str = "svc") -> bool:
    return procs.running_pid(SERVICES[name].process(prefix)) is not None
