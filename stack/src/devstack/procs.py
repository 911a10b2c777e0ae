"""Detached processes with pid files, so `up` can find what is running and `down` can end it."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from devstack.paths import log_dir, run_dir


class StackError(RuntimeError):
    """A component of the stack could not be brought up; the message says why."""


def pid_file(name: str) -> Path:
    return run_dir() / f"{name}.pid"


def running_pid(name: str) -> int | None:
    """The pid of `name` if it runs; a process that exited (a zombie included) is not running,
    and its pid file goes."""
    path = pid_file(name)
    if not path.exists():
        return None
    try:
        pid = int(path.read_text().strip())
        alive = _alive(pid)
    except (ValueError, PermissionError):
        alive = False
    if not alive:
        path.unlink(missing_ok=True)
        return None
    return pid


def start(
    name: str,
    argv: Sequence[str],
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> int:
    """Start `argv` in its own session (so `stop` can end its whole process group)."""
    log_path = log_dir() / f"{name}.log"
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env={**os.environ, **(env or {})},
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    pid_file(name).write_text(str(process.pid))
    return process.pid


def stop(name: str, timeout: float = 20.0) -> bool:
    pid = running_pid(name)
    if pid is None:
        return False
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)
    if not _wait(lambda: not _alive(pid), timeout):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
        _wait(lambda: not _alive(pid), 5)
    pid_file(name).unlink(missing_ok=True)
    return True


def kill(name: str) -> None:
    pid = running_pid(name)
    if pid is None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
    _wait(lambda: not _alive(pid), 10)
    pid_file(name).unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0): reap it if it is our child, else read its state.
    with contextlib.suppress(ChildProcessError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    return not _zombie(pid)


def _zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    # The state follows the command name in parentheses, which may itself hold spaces.
    return stat.rsplit(")", 1)[-1].split()[0] == "Z"


def listens(pid: int, port: int) -> bool:
    """Whether process `pid` itself holds the socket listening on `port` (Linux: the socket's
    inode among the process's descriptors). A readiness check that only asks the port would
    accept whichever process got there first."""
    inodes = _listening_inodes(port)
    if not inodes:
        return False
    try:
        descriptors = list(Path(f"/proc/{pid}/fd").iterdir())
    except OSError:
        return False
    for descriptor in descriptors:
        with contextlib.suppress(OSError):
            if os.readlink(descriptor) in inodes:
                return True
    return False


_LISTEN = "0A"


def _listening_inodes(port: int) -> set[str]:
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                local, state, inode = fields[1], fields[3], fields[9]
                if state == _LISTEN and int(local.rsplit(":", 1)[1], 16) == port:
                    inodes.add(f"socket:[{inode}]")
    return inodes


def _wait(predicate: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return predicate()


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def free_port(preferred: int) -> int:
    """`preferred` if nothing listens there, else (and for 0) a port the kernel picks.

    Nothing ever listens on port 0, so without the guard `free_port(0)` answered 0: a caller
    retrying with it until the port is not one it already handed out then spun forever
    (`services._unassigned_port` starting a fourth db-writer while the first still started)."""
    if preferred and not port_open(preferred):
        return preferred
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for(what: str, predicate: Callable[[], bool], timeout: float, log: str) -> None:
    if not _wait(predicate, timeout):
        tail = ""
        log_path = log_dir() / f"{log}.log"
        if log_path.exists():
            tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-20:])
        raise StackError(f"{what} did not come up within {timeout:.0f}s; last log lines:\n{tail}")
