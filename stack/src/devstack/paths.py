"""Where the stack keeps its state: `.stack/` at the repository root (gitignored)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


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


@contextlib.contextmanager
def stack_dir_at(path: Path) -> Iterator[Path]:
    """Inside the block, everything of the stack lives in `path` (a second, independent stack:
    a benchmark's, a test's), whatever `RESERVESYNC_STACK_DIR` said before."""
    previous = os.environ.get("RESERVESYNC_STACK_DIR")
    os.environ["RESERVESYNC_STACK_DIR"] = str(path)
    try:
        yield path
    finally:
        if previous is None:
            os.environ.pop("RESERVESYNC_STACK_DIR", None)
        else:
            os.environ["RESERVESYNC_STACK_DIR"] = previous


def env_file() -> Path:
    return stack_dir() / "env"


def run_dir() -> Path:
    path = stack_dir() / "run"
    path.mkdir(exist_ok=True)
    return path


def oracle_dir() -> Path:
    """The simulated oracle's own files (its client's outbox), wiped with the world."""
    return stack_dir() / "oracle"


def log_dir() -> Path:
    path = stack_dir() / "logs"
    path.mkdir(exist_ok=True)
    return path


class StackSettings(BaseSettings):
    """What the stack's commands read from the environment (listed by their `--help`)."""

    model_config = SettingsConfigDict(extra="ignore")

    reservesync_stack_dir: Path | None = Field(
        None, description="where the stack keeps its state (default: .stack/ of the checkout)"
    )
    reservesync_root: Path | None = Field(
        None, description="the checkout (default: found from this file)"
    )
