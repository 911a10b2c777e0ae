"""The runner's process bookkeeping: a stack in use is not wiped without --force; a dead or
zombie child is not counted as running; readiness is our own process's; a crashed service is
restarted by the supervisor."""

from __future__ import annotations

import contextlib
import secrets
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from devstack import procs, services, stack
from devstack.paths import stack_dir_at
from devstack.supervisor import Supervisor

from tests.support.stack import Endpoints

SLEEPER = [sys.executable, "-c", "import time; time.sleep(600)"]


def test_a_new_world_refuses_a_stack_whose_services_run(tmp_path: Path) -> None:
    with stack_dir_at(tmp_path):
        procs.start("svc-api", SLEEPER)
        try:
            with pytest.raises(procs.StackError, match=r"in use \(svc-api running\).*--force"):
                stack.new_world()
            assert procs.running_pid("svc-api") is not None, "the guard stopped the service"
        finally:
            procs.stop("svc-api")
        assert stack.running_services() == []


def _wait(predicate: Callable[[], bool], within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not predicate():
        assert time.monotonic() < deadline, f"timed out after {within:.0f}s waiting for {what}"
        time.sleep(0.1)


def test_a_zombie_is_not_running(tmp_path: Path) -> None:
    # A parent that never reaps its child: the child stays a zombie that kill(0) still finds.
    script = (
        "import subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-c', 'pass'])\n"
        "print(child.pid, flush=True)\n"
        "time.sleep(600)\n"
    )
    with stack_dir_at(tmp_path):
        procs.start("parent", [sys.executable, "-c", script])
        try:
            log = tmp_path / "logs" / "parent.log"
            _wait(lambda: log.exists() and log.read_text().strip() != "", 60, "the child's pid")
            zombie = int(log.read_text().split()[0])
            stat = Path(f"/proc/{zombie}/stat")
            _wait(lambda: stat.read_text().rsplit(")", 1)[1].split()[0] == "Z", 60, "a zombie")
            procs.pid_file("child").write_text(str(zombie))
            assert procs.running_pid("child") is None
            assert not procs.pid_file("child").exists()
        finally:
            procs.stop("parent")


FOREIGN_SERVER = (
    "import http.server, sys\n"
    "class Any(http.server.BaseHTTPRequestHandler):\n"
    "    def do_GET(self):\n"
    "        self.send_response(200); self.end_headers(); self.wfile.write(b'up')\n"
    "http.server.HTTPServer(('127.0.0.1', int(sys.argv[1])), Any).serve_forever()\n"
)


def test_readiness_asks_who_holds_the_port(tmp_path: Path) -> None:
    """Another stack's process answering 200 on the port is not our service."""
    port = procs.free_port(0)
    with stack_dir_at(tmp_path):
        foreign = procs.start("foreign", [sys.executable, "-c", FOREIGN_SERVER, str(port)])
        ours = procs.start("ours", SLEEPER)
        try:
            _wait(lambda: procs.port_open(port), 60, "the foreign server")
            assert procs.listens(foreign, port)
            assert not procs.listens(ours, port)
            assert services._ours(foreign, port)
            assert not services._ours(ours, port)
        finally:
            procs.stop("foreign")
            procs.stop("ours")


def test_a_crashed_service_is_restarted_and_a_lost_port_chosen_again(
    endpoints: Endpoints, monkeypatch: pytest.MonkeyPatch
) -> None:
    prefix = f"sup{secrets.token_hex(2)}"
    taken = procs.free_port(0)
    with contextlib.ExitStack() as cleanup:
        # A foreign process binds the port the runner chose, before the service does.
        procs.start(f"{prefix}-foreign", [sys.executable, "-c", FOREIGN_SERVER, str(taken)])
        cleanup.callback(procs.stop, f"{prefix}-foreign")
        _wait(lambda: procs.port_open(taken), 60, "the foreign server")
        choose = services._unassigned_port
        chosen = iter([taken])
        monkeypatch.setattr(
            services,
            "_unassigned_port",
            lambda preferred, own: next(chosen, None) or choose(0, own),
        )
        cleanup.callback(services.stop, ["oracle-logger"], prefix=prefix)
        urls = services.start(["oracle-logger"], stack=endpoints.env(), prefix=prefix)
        assert urls["ORACLE_LOGGER_URL"] != f"http://127.0.0.1:{taken}"
        first = procs.running_pid(f"{prefix}-oracle-logger")
        assert first is not None

        said: list[str] = []
        supervisor = Supervisor(
            {"oracle-logger": {}}, said.append, stack=endpoints.env(), prefix=prefix,
            backoff_base_s=0.5,
        )  # fmt: skip
        services.kill("oracle-logger", prefix=prefix)
        deadline = time.monotonic() + 120
        while supervisor.restarts["oracle-logger"] == 0:
            assert time.monotonic() < deadline, f"not restarted; said: {said}"
            supervisor.check()
            time.sleep(0.2)
        assert any("oracle-logger exited; restarting in" in line for line in said), said
        assert any("oracle-logger restarted at http://127.0.0.1:" in line for line in said)
        second = procs.running_pid(f"{prefix}-oracle-logger")
        assert second is not None
        assert second != first
