"""The images docker-compose.yml builds: which Dockerfile target and build args each service
uses, the workspace member those args name, and what that target of the Dockerfile installs.

Shared by test_compose.py (what the containers get) and test_images.py (what the images hold).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from pydantic_settings import BaseSettings

from tests.deploy.support.compose import service, services
from tests.deploy.support.dockerfile import Image, arg_reference, image, option, uv_syncs
from tests.deploy.support.workspace import (
    INIT_JOB_SETTINGS,
    ROOT,
    init_job_settings,
    service_names,
    settings_of,
)

# Every image is one target of this Dockerfile, chosen by build.target and build.args.
DOCKERFILE = ROOT / "services" / "Dockerfile"
SERVICE_TARGETS = ("worker", "http")
INIT_TARGET = "init"
SERVICE_ARGS = ("SERVICE_DIR", "PACKAGE", "MODULE")


def target_of(name: str) -> str | None:
    target: str | None = (service(name).get("build") or {}).get("target")
    return target


def built_with(*targets: str) -> list[str]:
    return [name for name in services() if target_of(name) in targets]


def app_names() -> list[str]:
    """The services proper: built with a service target (worker / http)."""
    return built_with(*SERVICE_TARGETS)


def init_jobs() -> list[str]:
    """The jobs of the init image (one-shot, or on a schedule)."""
    return built_with(INIT_TARGET)


def build_args(name: str) -> dict[str, str]:
    """The build args a service sets; one passed through from the host (`- KEY`, rendered
    null when unset) is not the repository's to check."""
    args: dict[str, str | None] = service(name)["build"].get("args") or {}
    return {key: value for key, value in args.items() if value is not None}


def dockerfile_of(name: str) -> Path:
    build: dict[str, str] = service(name)["build"]
    return (Path(build["context"]) / build.get("dockerfile", "Dockerfile")).resolve()


@cache
def image_of(name: str) -> Image:
    target = target_of(name)
    assert target, f"service {name}: set build.target ({[*SERVICE_TARGETS, INIT_TARGET]})"
    return image(dockerfile_of(name), target)


@dataclass(frozen=True)
class AppService:
    directory: Path  # services/<dir>, the SERVICE_DIR build arg
    dist: str  # the PACKAGE build arg: [project].name of directory
    module: str  # the MODULE build arg: python -m <module>, <module>.config.Settings


@cache
def app_service(name: str) -> AppService:
    """The build args of a service, checked against the workspace member they name."""
    args, where = build_args(name), f"service {name} (docker-compose.yml build.args)"
    missing = [arg for arg in SERVICE_ARGS if not args.get(arg)]
    assert not missing, f"{where}: set {missing} for {DOCKERFILE.relative_to(ROOT)}"
    service_dir, dist, module = (args[arg] for arg in SERVICE_ARGS)
    directory = (ROOT / service_dir).resolve()
    not_a_service = f"{where}: SERVICE_DIR={service_dir} is not one of services/{service_names()}"
    assert directory.parent == ROOT / "services", not_a_service
    assert directory.name in service_names(), not_a_service
    project = tomllib.loads((directory / "pyproject.toml").read_text())
    assert dist == project["project"]["name"], (
        f"{where}: PACKAGE={dist}, but {service_dir}/pyproject.toml names the package "
        f"{project['project']['name']!r}; `uv sync --package` needs that [project].name"
    )
    packages = project["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]
    assert f"src/{module}" in packages, (
        f"{where}: MODULE={module} is not what {service_dir} ships (its wheel packages: {packages})"
    )
    return AppService(directory, dist, module)


def settings_class(name: str) -> type[BaseSettings]:
    """The pydantic Settings the code a compose service runs reads its environment with."""
    if name in app_names():
        return settings_of(app_service(name).directory.name)  # <MODULE>.config.Settings
    assert name in INIT_JOB_SETTINGS, (
        f"service {name} is built with --target {INIT_TARGET} but INIT_JOB_SETTINGS "
        "(tests/deploy/workspace.py) does not say which settings its command reads"
    )
    return init_job_settings(name)


def synced_package(name: str, flags_needed: set[str]) -> str:
    """The package every `uv sync` of the service's build installs: the value Compose passes
    for the build arg that `--package` names."""
    built = image_of(name)
    syncs = uv_syncs(built)
    assert syncs, f"{built.where}: no `uv sync`"
    selected = set()
    for flags in syncs:
        lacking = sorted(flags_needed - set(flags))
        assert not lacking, f"{built.where}: uv sync {' '.join(flags)} lacks {lacking}"
        arg = arg_reference(option(flags, "--package") or "")
        assert arg in built.declared_args(), (
            f"{built.where}: uv sync must select --package from a declared build arg: "
            f"uv sync {' '.join(flags)}"
        )
        selected.add(build_args(name).get(arg, ""))
    assert len(selected) == 1, f"service {name}: its build installs {sorted(selected)}"
    return selected.pop()
