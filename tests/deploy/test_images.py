"""What the images docker-compose.yml builds hold and run, read from services/Dockerfile
(tests/deploy/dockerfile.py) for each service's target and build args, rendered by Compose
(tests/deploy/images.py): each service runs its own package, the init image the deploy tooling.

hadolint judges the Dockerfile itself (test_hadolint.py); these are the project's own promises.
Every check fails with a message naming the service, the file and what to change.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

from tests.deploy.support.compose import command_text, service
from tests.deploy.support.dockerfile import (
    arg_reference,
    assert_runs_as_non_root,
    dockerfiles,
    dockerignored,
    exec_form,
    expand,
)
from tests.deploy.support.images import (
    DOCKERFILE,
    INIT_TARGET,
    SERVICE_TARGETS,
    app_names,
    app_service,
    build_args,
    built_with,
    dockerfile_of,
    image_of,
    init_jobs,
    settings_class,
    synced_package,
    target_of,
)
from tests.deploy.support.workspace import ROOT, env_names

INIT_PACKAGE = "reservesync-devstack"  # devstack.deploy and the shared library
UV_VERSION = "0.9.30"
PYTHON_BASE = "python:3.11-slim"
# A service image runs `python -m $SERVICE_MODULE` (ENV baked from the MODULE build arg). The shell
# only expands the variable and `exec`s, so Python itself receives SIGTERM.
SERVICE_ENTRYPOINT = [
    "/bin/sh",
    "-c",
    'exec /app/.venv/bin/python -m "$SERVICE_MODULE" "$@"',
    "service",
]


def test_one_dockerfile_builds_every_image() -> None:
    assert dockerfiles() == [DOCKERFILE], (
        f"{[str(p.relative_to(ROOT)) for p in dockerfiles()]}: every image is a target of "
        f"{DOCKERFILE.relative_to(ROOT)}; delete the copies (compose selects the image with "
        "build.target and build.args)"
    )


@pytest.mark.parametrize("name", built_with(*SERVICE_TARGETS, INIT_TARGET))
def test_build_context_dockerfile_target_and_args(name: str) -> None:
    context = Path(service(name)["build"]["context"]).resolve()
    assert context == ROOT, (
        f"service {name}: the build context must be the repository root (the uv workspace "
        f"needs uv.lock and shared/), not {context}"
    )
    assert dockerfile_of(name) == DOCKERFILE, (
        f"service {name}: build from {DOCKERFILE.relative_to(ROOT)}, not {dockerfile_of(name)}"
    )
    assert target_of(name) in (*SERVICE_TARGETS, INIT_TARGET), (
        f"service {name}: build.target is {target_of(name)!r}; use one of "
        f"{[*SERVICE_TARGETS, INIT_TARGET]}"
    )
    built = image_of(name)  # the target exists: FROM ... AS <target>
    unused = sorted(set(build_args(name)) - built.declared_args())
    assert not unused, (
        f"{built.where}: build args {unused} are declared by no ARG of the stages it builds "
        f"({', '.join(built.built)}); Docker would ignore them"
    )
    for copy in built.everywhere("COPY") + built.everywhere("ADD"):
        if "--from=" in copy:
            continue
        for source in [w for w in shlex.split(copy) if not w.startswith("--")][:-1]:
            path = expand(source, build_args(name))
            assert (context / path).exists(), f"{built.where}: COPY source {path} is missing"
            assert not dockerignored(path), (
                f"{built.where}: COPY source {path} is excluded by .dockerignore"
            )


def test_dockerignore_keeps_local_state_out_of_the_context() -> None:
    assert (ROOT / ".dockerignore").is_file(), ".dockerignore is missing at the repository root"
    for path in [".git", ".stack", ".venv", "contracts/node_modules", ".env", ".mypy_cache"]:
        assert dockerignored(path), f".dockerignore must exclude {path}"
    for path in ["uv.lock", "pyproject.toml", "shared/src", "contracts/src", ".env.example"]:
        assert not dockerignored(path), f".dockerignore must not exclude {path}"


@pytest.mark.parametrize("name", app_names())
def test_service_image_runs_its_own_package(name: str) -> None:
    app = app_service(name)  # SERVICE_DIR, PACKAGE and MODULE name one workspace service
    built = image_of(name)
    for needed in ("config.py", "__main__.py"):
        source = app.directory / "src" / app.module / needed
        assert source.is_file(), f"service {name}: MODULE={app.module} needs {source}"
    settings = settings_class(name)
    target = "http" if "HTTP_PORT" in env_names(settings) else "worker"
    assert target_of(name) == target, (
        f"service {name}: {settings.__module__}.Settings "
        f"{'reads' if target == 'http' else 'has no'} HTTP_PORT, so build.target must be "
        f"{target}, not {target_of(name)}"
    )

    entrypoints = built.final("ENTRYPOINT")
    assert entrypoints, f"{built.where} has no ENTRYPOINT"
    assert exec_form(entrypoints[-1]) == SERVICE_ENTRYPOINT, (
        f"{built.where}: ENTRYPOINT must be {json.dumps(SERVICE_ENTRYPOINT)}: {entrypoints[-1]}"
    )
    module_arg = arg_reference(built.env().get("SERVICE_MODULE", ""))
    not_baked = (
        f"{built.where}: ENV SERVICE_MODULE must be baked from the MODULE build arg "
        "(ENV SERVICE_MODULE=${MODULE} in a stage that declares ARG MODULE)"
    )
    assert module_arg == "MODULE", not_baked
    assert module_arg in built.declared_args(), not_baked
    for override in ("entrypoint", "command"):
        assert service(name).get(override) is None, (
            f"service {name} overrides the image's {override}; the image must run "
            f"python -m {app.module} as built"
        )

    assert len(built.built) >= 2, f"{built.where} must be multi-stage (build, then runtime)"
    bases = {stage.base for stage in built.built.values()} - set(built.built)
    assert bases == {PYTHON_BASE}, f"{built.where}: every stage must be FROM {PYTHON_BASE}: {bases}"
    assert any(f"uv=={UV_VERSION}" in run for run in built.everywhere("RUN")), (
        f"{built.where}: install uv from PyPI with pip install uv=={UV_VERSION}"
    )
    package = synced_package(name, {"--frozen", "--no-dev", "--no-editable"})
    assert package == app.dist, f"{built.where}: uv sync installs {package}, not {app.dist}"
    assert any("/app/.venv" in c and "--from=" in c for c in built.final("COPY")), (
        f"{built.where}: the runtime stage must copy /app/.venv from the build stage"
    )
    assert_runs_as_non_root(built)

    if target == "http":
        healthchecks = built.final("HEALTHCHECK")
        assert healthchecks, f"{built.where}: an HTTP service needs a HEALTHCHECK on /healthz"
        for needed in ("/healthz", "HTTP_PORT"):
            assert needed in healthchecks[-1], (
                f"{built.where}: the HEALTHCHECK must request /healthz on $HTTP_PORT"
            )
        for tool in ("curl", "wget"):
            assert tool not in healthchecks[-1], (
                f"{built.where}: {PYTHON_BASE} has no {tool}; use Python's urllib"
            )


def test_init_image_installs_the_deploy_tooling_and_the_contracts() -> None:
    assert init_jobs(), f"no compose service is built with --target {INIT_TARGET}"
    for job in init_jobs():
        built = image_of(job)
        package = synced_package(job, {"--frozen", "--no-dev"})
        assert package == INIT_PACKAGE, (
            f"{built.where}: uv sync must install {INIT_PACKAGE} (devstack.deploy + shared): "
            f"set the PACKAGE build arg of {job}, got {package!r}"
        )
        assert any("scripts/compile.js" in run for run in built.everywhere("RUN")), (
            f"{built.where}: compile the contracts with solc"
        )
        build_dir = re.search(r"--build\s+(\S+)", command_text("deploy-contracts"))
        assert build_dir, "deploy-contracts must pass --build <artifacts dir>"
        copied = [copy.split()[-1] for copy in built.final("COPY")]
        assert build_dir.group(1) in copied, (
            f"deploy-contracts deploys from {build_dir.group(1)}, which {built.where} "
            f"never fills (it copies to {copied})"
        )
        assert_runs_as_non_root(built)


@pytest.mark.parametrize("name", [n for n in app_names() if target_of(n) == "worker"])
def test_worker_image_serves_metrics_and_checks_its_heartbeat(name: str) -> None:
    built = image_of(name)
    healthchecks = built.final("HEALTHCHECK")
    assert healthchecks, f"{built.where}: a worker image needs a HEALTHCHECK"
    for needed in ("/healthz", "METRICS_PORT"):
        assert needed in healthchecks[-1], (
            f"{built.where}: the HEALTHCHECK must request /healthz on $METRICS_PORT"
        )
    assert built.env().get("METRICS_HOST") == "0.0.0.0", (
        f"{built.where}: ENV METRICS_HOST=0.0.0.0, or the image's metrics are unreachable"
    )
    exposed = [expose.split("/")[0] for expose in built.final("EXPOSE")]
    assert built.env().get("METRICS_PORT") in exposed, (
        f"{built.where}: ENV METRICS_PORT={built.env().get('METRICS_PORT')} must be a port the "
        f"image EXPOSEs ({exposed})"
    )
