"""A Bitcoin node of our own: btcd in regtest, built from the Go module proxy with this
machine's Go (`go install github.com/btcsuite/btcd@VERSION`), started on loopback.

Go's module and build caches live in the user's cache directory (like Maven's ~/.m2), so every
stack of the machine builds btcd once; the binary goes into the stack's own directory. RPC is
plain HTTP on loopback (btcd allows `--notls` only there) with a user and password drawn per
stack, written to a config file of mode 600 rather than onto a command line. Blocks are mined
with the `generate` RPC to the stack's own key (`BITCOIN_MINING_WIF`), so tests can spend the
coinbase outputs once they mature.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import urllib.request
from pathlib import Path
from typing import Any

from embit import ec, script
from embit.networks import NETWORKS

from devstack import procs
from devstack.paths import stack_dir

NAME = "btcd"
VERSION = "v0.26.2"
MODULE = "github.com/btcsuite/btcd"
NETWORK = "regtest"


def _home() -> Path:
    path = stack_dir() / "bitcoin"
    path.mkdir(exist_ok=True)
    return path


def _go_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "reservesync" / "go"


def ensure_binary() -> Path:
    """`btcd` of VERSION in the stack's directory, built once (again only when VERSION changes)."""
    bin_dir = _home() / "bin"
    binary = bin_dir / "btcd"
    stamp = bin_dir / ".version"
    if binary.exists() and stamp.exists() and stamp.read_text() == VERSION:
        return binary
    go = _go()
    cache = _go_cache()
    result = subprocess.run(
        [go, "install", f"{MODULE}@{VERSION}"],
        cwd=_home(),
        env={
            **os.environ,
            "GOBIN": str(bin_dir),
            "GOPATH": str(cache / "path"),
            "GOMODCACHE": str(cache / "mod"),
            "GOCACHE": str(cache / "build"),
            "GOFLAGS": "-modcacherw",
            "GO111MODULE": "on",
        },
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise procs.StackError(f"go install {MODULE}@{VERSION} failed:\n{result.stderr}")
    stamp.write_text(VERSION)
    return binary


def _go() -> str:
    """The Go toolchain: on the PATH, or where the official tarball installs it."""
    found = shutil.which("go") or shutil.which("go", path="/usr/local/go/bin")
    if found is None:
        raise procs.StackError(f"Go (1.22 or newer) is needed to build btcd {VERSION}")
    return found


def mining_key(secret_hex: str) -> tuple[str, str]:
    """(WIF, P2WPKH regtest address) of the stack's mining key."""
    key = ec.PrivateKey(bytes.fromhex(secret_hex))
    address = script.p2wpkh(key.get_public_key()).address(NETWORKS[NETWORK])
    return key.wif(NETWORKS[NETWORK]), str(address)


def data_dir() -> Path:
    return _home() / "data"


def rpc(url: str, user: str, password: str, method: str, *params: Any) -> Any:
    """One call; raises OSError when the node does not answer and RuntimeError on an error."""
    body = json.dumps({"jsonrpc": "1.0", "id": 1, "method": method, "params": list(params)})
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    request = urllib.request.Request(  # noqa: S310 (our own node on loopback)
        url, body.encode(), {"Content-Type": "application/json", "Authorization": f"Basic {token}"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        answer = json.loads(response.read())
    if answer.get("error") is not None:
        raise RuntimeError(f"{method}: {answer['error']}")
    return answer["result"]


def answers(url: str, user: str, password: str) -> bool:
    try:
        rpc(url, user, password, "getblockcount")
    except (OSError, ValueError, RuntimeError):
        return False
    return True


def up(rpc_port: int, p2p_port: int, user: str, password: str, mining_address: str) -> str:
    """Start the node (or find it running); returns its RPC URL."""
    url = f"http://127.0.0.1:{rpc_port}"
    if procs.running_pid(NAME) is None:
        binary = ensure_binary()
        home = _home()
        config = home / "btcd.conf"
        config.write_text(f"rpcuser={user}\nrpcpass={password}\n")
        config.chmod(0o600)
        procs.start(
            NAME,
            [
                str(binary),
                f"--{NETWORK}",
                f"--configfile={config}",
                f"--datadir={data_dir()}",
                f"--logdir={home / 'logs'}",
                "--notls",
                f"--rpclisten=127.0.0.1:{rpc_port}",
                f"--listen=127.0.0.1:{p2p_port}",
                "--nodnsseed",
                f"--miningaddr={mining_address}",
            ],
        )
    procs.wait_for("btcd", lambda: answers(url, user, password), 60, NAME)
    return url


def down() -> None:
    procs.stop(NAME)


def wipe() -> None:
    """A new regtest chain at the next start (a new world)."""
    shutil.rmtree(data_dir(), ignore_errors=True)


def has_chain() -> bool:
    return data_dir().exists()


def version() -> str:
    stamp = _home() / "bin" / ".version"
    return stamp.read_text().removeprefix("v") if stamp.exists() else "not built"
