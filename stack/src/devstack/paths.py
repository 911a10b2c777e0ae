"""Where the stack keeps its state: `.stack/` at the repository root (gitignored)."""

from __future__ import annotations

import os
from pathlib import Path


def repo_root() -> Path:
    override = os.environ.get("RESERVESYNC_ROOT")
    if override:
        return Path(override).resolve()
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "stack" / "kafka" / "pom.xml").exists():
            return parent
    raise RuntimeError("cannot find the repository root (set RESERVESYNC_ROOT)")


def stack_dir() -> Path:
    path = repo_root() / ".stack"
    path.mkdir(exist_ok=True)
    return path


def env_file() -> Path:
    return stack_dir() / "env"


def run_dir() -> Path:
    path = stack_dir() / "run"
    path.mkdir(exist_ok=True)
    return path


def log_dir() -> Path:
    path = stack_dir() / "logs"
    path.mkdir(exist_ok=True)
    return path
