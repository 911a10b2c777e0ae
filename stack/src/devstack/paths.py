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
    """`.stack/` of the checkout, or `RESERVESYNC_STACK_DIR` (a second, independent stack)."""
    override = os.environ.get("RESERVESYNC_STACK_DIR")
    path = Path(override).resolve() if override else repo_root() / ".stack"
    path.mkdir(parents=True, exist_ok=True)
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
