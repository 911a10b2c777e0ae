"""The five services as local processes over the stack, each with its own database role."""

from __future__ import annotations

import functools
import json
import sys
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from devstack import envfile, procs
from devstack.database import ENV_KEYS
from devstack.paths import run_dir


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    module: str
    port: int
    database_url_key: str | None = None
    url_key: str | None = None
    """The `.stack/env` key of its base URL, for services that serve HTTP routes."""

    def process(self, prefix: str = "svc") -> str:
        return f"{prefix}-{self.name}"


SERVICES: dict[str, ServiceSpec] = {
    spec.name: spec
    for spec in (
        ServiceSpec("chain-listener", "chain_listener", 19101),
        ServiceSpec("db-writer", "db_writer", 19102, ENV_KEYS["rs_writer"]),
        ServiceSpec("oracle-logger", "oracle_logger", 18081, url_key="ORACLE_LOGGER_URL"),
        ServiceSpec("health", "health_monitor", 18082, ENV_KEYS["rs_health"], "HEALTH_URL"),
        ServiceSpec("api", "realtime_api", 18083, ENV_KEYS["rs_api"], "API_URL"),
    )
}


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
    return {k: v for k, v in env.items() if "ADMIN" not in k}


PRODUCERS = ("chain-listener", "db-writer", "oracle-logger")


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
        spec = SERVICES[name]
        process = spec.process(prefix)
        port_file = run_dir() / f"{process}.port"
        if procs.running_pid(process) is None:
            # A restarted producer keeps its probe port, so health's HEALTH_PRODUCERS holds.
            previous = port_file.read_text().strip() if port_file.exists() else ""
            port = _unassigned_port(
                int(previous) if previous.isdigit() and int(previous) else spec.port, port_file
            )
            env = {**environment(spec, stack, port), **(overrides or {})}
            if name == "health" and "HEALTH_PRODUCERS" not in env:
                env["HEALTH_PRODUCERS"] = json.dumps(producer_probes(prefix))
            # Overrides may move a worker's probe port, or turn it off with 0.
            port_file.write_text(env.get("HTTP_PORT" if spec.url_key else "METRICS_PORT", "0"))
            procs.start(process, [sys.executable, "-m", spec.module], env=env)
        port = int(port_file.read_text())
        if port:
            # Workers answer /healthz on their metrics port from the first second (their
            # heartbeat says "starting"), so a process that cannot start fails here.
            url = f"http://127.0.0.1:{port}"
            procs.wait_for(name, functools.partial(_healthy, url), 60, process)
        if spec.url_key:
            urls[spec.url_key] = f"http://127.0.0.1:{port}"
    if publish:
        envfile.update(urls)
    return urls


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
