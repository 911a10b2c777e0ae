"""A Hardhat 2 node (npm, lockfile committed) with the six system contracts deployed."""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.request
from pathlib import Path

from devstack import procs
from devstack.paths import repo_root, stack_dir

NAME = "hardhat"


def contracts_dir() -> Path:
    return repo_root() / "contracts"


def ensure_node_modules() -> None:
    directory = contracts_dir()
    lock = directory / "package-lock.json"
    stamp = directory / "node_modules" / ".lock-installed"
    if stamp.exists() and stamp.read_text() == lock.read_text():
        return
    if shutil.which("npm") is None:
        raise procs.StackError("npm (Node 20) is needed for Hardhat and solc")
    result = subprocess.run(
        ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=directory,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise procs.StackError(f"npm ci failed in contracts/:\n{result.stderr}")
    stamp.write_text(lock.read_text())


def build_dir() -> Path:
    return stack_dir() / "contracts"


def compile_contracts() -> Path:
    """Compile with the solc npm package; cached until a source file changes."""
    ensure_node_modules()
    sources = sorted((contracts_dir() / "src").glob("*.sol"))
    fingerprint = json.dumps({p.name: p.read_text() for p in sources}, sort_keys=True)
    out = build_dir()
    stamp = out / ".sources"
    if stamp.exists() and stamp.read_text() == fingerprint:
        return out
    result = subprocess.run(
        ["node", "scripts/compile.js", str(out)],
        cwd=contracts_dir(),
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise procs.StackError(f"solc failed:\n{result.stdout}\n{result.stderr}")
    stamp.write_text(fingerprint)
    return out


def _rpc(url: str, method: str) -> object:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": []}).encode()
    request = urllib.request.Request(url, body, {"Content-Type": "application/json"})  # noqa: S310
    with urllib.request.urlopen(request, timeout=2) as response:  # noqa: S310 (our own node)
        return json.loads(response.read())["result"]


def websocket_url(rpc_url: str) -> str:
    """The node's WebSocket endpoint: Hardhat (and anvil) serve JSON-RPC over WebSocket on
    the HTTP port, where `eth_subscribe` works."""
    return "ws" + rpc_url.removeprefix("http")


def answers(url: str) -> bool:
    try:
        _rpc(url, "eth_chainId")
    except OSError:
        return False
    return True


def up(port: int) -> tuple[str, int]:
    """Start the node (or find it running); returns (rpc url, chain id)."""
    ensure_node_modules()
    url = f"http://127.0.0.1:{port}"
    if procs.running_pid(NAME) is None:
        procs.start(
            NAME,
            ["node_modules/.bin/hardhat", "node", "--hostname", "127.0.0.1", "--port", str(port)],
            cwd=contracts_dir(),
            env={
                "HARDHAT_DISABLE_TELEMETRY_PROMPT": "true",
                "NODE_OPTIONS": "--max-old-space-size=2048",
            },
        )
    procs.wait_for("Hardhat node", lambda: answers(url), 90, NAME)
    chain_id = int(str(_rpc(url, "eth_chainId")), 16)
    return url, chain_id


def down() -> None:
    procs.stop(NAME)
    # Hardhat keeps the chain in memory: a stopped node's deployment is gone with it.
    (stack_dir() / "deployment.json").unlink(missing_ok=True)


def hardhat_version() -> str:
    package = contracts_dir() / "node_modules" / "hardhat" / "package.json"
    if not package.exists():
        return "not installed"
    version: str = json.loads(package.read_text())["version"]
    return version
