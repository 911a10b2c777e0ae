"""A PostgreSQL server of our own: `initdb` into `.stack`, started on loopback.

Postgres refuses to run as root, so when we are root the cluster belongs to a system user
(`postgres` if the Debian package made one, else `reservesync`).
"""

from __future__ import annotations

import getpass
import glob
import hashlib
import os
import pwd
import shutil
import subprocess
from pathlib import Path

from devstack import procs
from devstack.paths import log_dir, run_dir, stack_dir

NAME = "postgres"
ADMIN_USER = "reservesync_admin"
DATABASE = "reservesync"


def _binaries() -> Path:
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).resolve().parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if candidates:
        return Path(candidates[-1]).parent
    if os.geteuid() != 0:
        raise procs.StackError(
            "no PostgreSQL server binaries found; install the Debian package postgresql-15"
        )
    subprocess.run(["apt-get", "update", "-qq"], check=True)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "postgresql-15"],
        check=True,
        env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
    )
    return Path("/usr/lib/postgresql/15/bin")


def _os_user() -> str:
    if os.geteuid() != 0:
        return getpass.getuser()
    for name in ("postgres", "reservesync"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    subprocess.run(["useradd", "--system", "--no-create-home", "reservesync"], check=True)
    return "reservesync"


def _as_user(user: str, argv: list[str]) -> list[str]:
    if os.geteuid() == 0 and user != "root":
        return ["runuser", "-u", user, "--", *argv]
    return argv


def _can_reach(user: str, path: Path) -> bool:
    if os.geteuid() != 0:
        return True
    result = subprocess.run(_as_user(user, ["test", "-w", str(path)]), check=False)
    return result.returncode == 0


def _data_dir(user: str) -> Path:
    """`.stack/postgres`, or a private dir under /var/tmp when the cluster's user cannot reach
    the checkout (a clone inside a mode-700 directory, for instance)."""
    preferred = stack_dir() / "postgres"
    preferred.mkdir(exist_ok=True)
    if os.geteuid() == 0:
        shutil.chown(preferred, user)
    if _can_reach(user, preferred):
        return preferred
    digest = hashlib.sha256(str(stack_dir()).encode()).hexdigest()[:12]
    # A per-stack directory, owned by the cluster's user.
    fallback = Path("/var/tmp") / f"reservesync-{digest}" / "postgres"  # noqa: S108
    fallback.mkdir(parents=True, exist_ok=True)
    shutil.chown(fallback.parent, user)
    shutil.chown(fallback, user)
    return fallback


def _password_file(home: Path, user: str, password: str) -> Path:
    path = home / "admin-password"
    path.write_text(password + "\n")
    os.chmod(path, 0o600)
    if os.geteuid() == 0:
        shutil.chown(path, user)
    return path


def up(port: int, admin_password: str) -> str:
    """Start the server (or find it running); returns the admin URL."""
    bin_dir = _binaries()
    user = _os_user()
    data = _data_dir(user)
    pgdata = data / "data"
    if not (pgdata / "PG_VERSION").exists():
        pwfile = _password_file(data, user, admin_password)
        subprocess.run(
            _as_user(
                user,
                [
                    str(bin_dir / "initdb"),
                    "-D",
                    str(pgdata),
                    "-U",
                    ADMIN_USER,
                    "--auth=scram-sha-256",
                    f"--pwfile={pwfile}",
                    "-E",
                    "UTF8",
                    "--locale=C.UTF-8",
                ],
            ),
            check=True,
            capture_output=True,
        )
        pwfile.unlink()
    data_dir_marker().write_text(str(pgdata))
    if _pg_ctl(pgdata, "status").returncode != 0:
        log = data / "server.log"
        log.touch()
        if os.geteuid() == 0:
            shutil.chown(log, user)
        link = log_dir() / "postgres.log"
        if not link.exists() and log != link:
            link.symlink_to(log)
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={data} "
            "-c max_connections=200 -c shared_buffers=256MB -c fsync=on "
            "-c synchronous_commit=on -c wal_level=replica -c max_wal_size=2GB"
        )
        result = _pg_ctl(pgdata, "-l", str(log), "-o", options, "-w", "-t", "60", "start")
        if result.returncode != 0:
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
            raise procs.StackError(f"PostgreSQL did not start: {result.stderr}\n{tail}")
    procs.wait_for("PostgreSQL", lambda: procs.port_open(port), 60, NAME)
    return f"postgresql://{ADMIN_USER}:{admin_password}@127.0.0.1:{port}/postgres"


def data_dir_marker() -> Path:
    # run_dir() makes `run/`: a new stack directory has none before its first process.
    return run_dir() / "postgres.datadir"


def running() -> bool:
    """Whether this stack's own cluster is up (a port answering may be someone else's)."""
    return postmaster_pid() is not None


def postmaster_pid() -> int | None:
    """The pid of this stack's own cluster's postmaster, if it runs."""
    marker = data_dir_marker()
    if not marker.exists():
        return None
    pid_file = Path(marker.read_text()) / "postmaster.pid"
    try:
        pid = int(pid_file.read_text().split()[0])
        os.kill(pid, 0)
    except (OSError, ValueError, IndexError):
        return None
    return pid


def restart() -> None:
    """A fast restart of the running cluster (connections drop, as in a failover)."""
    pgdata = Path(data_dir_marker().read_text())
    log = str(pgdata.parent / "server.log")
    result = _pg_ctl(pgdata, "-m", "fast", "-l", log, "-w", "-t", "60", "restart")
    if result.returncode != 0:
        raise procs.StackError(f"PostgreSQL did not restart: {result.stderr}")


def wipe() -> None:
    marker = data_dir_marker()
    if marker.exists():
        shutil.rmtree(Path(marker.read_text()), ignore_errors=True)
        marker.unlink()


def down() -> None:
    marker = data_dir_marker()
    if not marker.exists():
        return
    pgdata = Path(marker.read_text())
    if (pgdata / "postmaster.pid").exists():
        _pg_ctl(pgdata, "-m", "fast", "-w", "stop")


def _pg_ctl(pgdata: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`pg_ctl -D pgdata ARGS` as the cluster's user."""
    argv = [str(_binaries() / "pg_ctl"), "-D", str(pgdata), *args]
    return subprocess.run(_as_user(_os_user(), argv), capture_output=True, text=True, check=False)


def version() -> str:
    result = subprocess.run(
        [str(_binaries() / "postgres"), "--version"], capture_output=True, text=True, check=False
    )
    return result.stdout.strip()
