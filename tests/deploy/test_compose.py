"""Structure of the container deployment: docker-compose.yml, the Dockerfiles, .env.example and
the Postgres init script, checked against the code they run (no Docker engine needed).

Every check fails with a message naming the service, the file and what to change.
"""

from __future__ import annotations

import fnmatch
import importlib
import importlib.util
import json
import re
import shlex
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml
from pydantic import ValidationError
from pydantic_settings import BaseSettings

from tests.deploy.support.workspace import (
    DATABASE_ROLE,
    INIT_JOB_SETTINGS,
    PENDING_SETTINGS,
    env_names,
    env_problems,
    is_example_secret,
    own_secret,
    settings_of,
)

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
DOCKERIGNORE = ROOT / ".dockerignore"
# Every image is one target of this Dockerfile, chosen by build.target and build.args.
DOCKERFILE = ROOT / "services" / "Dockerfile"
SERVICE_TARGETS = ("worker", "http")
INIT_TARGET = "init"
INIT_PACKAGE = "reservesync-devstack"  # devstack.deploy and the shared library
SERVICE_ARGS = ("SERVICE_DIR", "PACKAGE", "MODULE")
PG_INIT_SCRIPT = ROOT / "deploy" / "postgres" / "init-roles.sh"

UV_VERSION = "0.9.30"
PYTHON_BASE = "python:3.11-slim"
VENV_PYTHON = "/app/.venv/bin/python"
# A service image runs `python -m $SERVICE_MODULE` (ENV baked from the MODULE build arg). The shell
# only expands the variable and `exec`s, so Python itself receives SIGTERM.
SERVICE_ENTRYPOINT = ["/bin/sh", "-c", f'exec {VENV_PYTHON} -m "$SERVICE_MODULE" "$@"', "service"]

INFRASTRUCTURE = {
    "kafka": "apache/kafka:4.1.1",
    "postgres": "postgres:16",
    "chain": "ghcr.io/foundry-rs/foundry",
    "bitcoin": "bitcoin/bitcoin:28.1",
}


# ------------------------------------------------------------------------------------ loading


@cache
def compose() -> dict[str, Any]:
    assert COMPOSE_FILE.is_file(), f"{COMPOSE_FILE} is missing"
    loaded = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(loaded, dict), "docker-compose.yml must be a mapping"
    assert isinstance(loaded.get("services"), dict), "docker-compose.yml has no services"
    return loaded


def services() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = compose()["services"]
    return found


@cache
def env_example() -> dict[str, str]:
    """KEY=VALUE lines of .env.example (Compose's own .env syntax, minus quoting subtleties)."""
    assert ENV_EXAMPLE.is_file(), f"{ENV_EXAMPLE} is missing"
    values: dict[str, str] = {}
    for number, raw in enumerate(ENV_EXAMPLE.read_text().splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        assert "=" in line, f".env.example line {number} is not KEY=VALUE: {raw!r}"
        key, value = line.split("=", 1)
        key = key.strip()
        assert re.fullmatch(r"[A-Z][A-Z0-9_]*", key), f".env.example: bad name {key!r}"
        assert key not in values, f".env.example sets {key} twice"
        values[key] = value.strip().strip("'\"")
    return values


_VAR = re.compile(r"\$(?:\$|\{(?P<braced>[^}]*)\}|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))")


def interpolate(text: str, where: str, used: set[str] | None = None) -> str:
    """Compose interpolation of one string, with .env.example as the .env file."""

    def one(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        expr = match.group("braced") or match.group("bare")
        name_match = re.match(r"[A-Za-z_][A-Za-z0-9_]*", expr)
        assert name_match, f"{where}: cannot parse ${{{expr}}}"
        name, rest = name_match.group(0), expr[name_match.end() :]
        if used is not None:
            used.add(name)
        value = env_example().get(name)
        if rest.startswith((":-", "-")):
            default = rest.split("-", 1)[1]
            empty = value is None or (rest.startswith(":") and value == "")
            return default if empty else str(value)
        assert rest == "" or rest.startswith((":?", "?")), f"{where}: unsupported ${{{expr}}}"
        assert value is not None, (
            f"{where}: ${{{name}}} has no default and .env.example does not define {name}"
        )
        return value

    return _VAR.sub(one, text)


def _walk_strings(node: object) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from _walk_strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk_strings(value)


def container_env(name: str) -> dict[str, str]:
    """What the container of service `name` gets: env_file keys, then `environment`."""
    service = services()[name]
    env: dict[str, str] = {}
    env_files = service.get("env_file") or []
    for entry in [env_files] if isinstance(env_files, str | dict) else env_files:
        path = entry["path"] if isinstance(entry, dict) else entry
        # The real .env is not in the repository; its documented shape is .env.example.
        source = ENV_EXAMPLE if Path(path).name == ".env" else ROOT / path
        assert source.is_file(), f"service {name}: env_file {path} does not exist"
        if source == ENV_EXAMPLE:
            env.update(env_example())
        else:
            for line in source.read_text().splitlines():
                if line.strip() and not line.lstrip().startswith("#") and "=" in line:
                    key, value = line.split("=", 1)
                    env[key.strip()] = value.strip()
    environment = service.get("environment") or {}
    if isinstance(environment, list):
        pairs = [item.split("=", 1) if "=" in item else [item, None] for item in environment]
        environment = dict(pairs)
    for key, value in environment.items():
        if value is None:  # `- KEY` passes the variable through from .env / the shell
            assert key in env_example(), (
                f"service {name}: {key} is passed through but .env.example does not define it"
            )
            env[key] = env_example()[key]
        else:
            env[key] = interpolate(str(value), f"service {name}: {key}")
    return env


@dataclass(frozen=True)
class Instruction:
    keyword: str
    args: str

    def exec_form(self) -> list[str] | None:
        try:
            parsed = json.loads(self.args)
        except json.JSONDecodeError:
            return None
        return parsed if isinstance(parsed, list) else None


@cache
def dockerfile(path: Path) -> tuple[Instruction, ...]:
    """Instructions of a Dockerfile: comments dropped, continuation lines joined."""
    assert path.is_file(), f"{path.relative_to(ROOT)} does not exist"
    instructions: list[Instruction] = []
    pending = ""
    for raw in path.read_text().splitlines():
        stripped = raw.strip()
        if stripped.startswith("#") or (not stripped and not pending):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        line = (pending + stripped).strip()
        pending = ""
        if line:
            keyword, _, args = line.partition(" ")
            instructions.append(Instruction(keyword.upper(), args.strip()))
    assert not pending, f"{path}: dangling line continuation at the end"
    return tuple(instructions)


@dataclass(frozen=True)
class Stage:
    name: str
    base: str  # the FROM image, or the name of an earlier stage
    body: tuple[Instruction, ...]  # the instructions after FROM


def stages(path: Path) -> dict[str, Stage]:
    """The stages of a Dockerfile by name (`FROM image AS name`; unnamed ones by index)."""
    relative = path.relative_to(ROOT)
    found: dict[str, Stage] = {}
    current: tuple[str, str] | None = None
    body: list[Instruction] = []
    for instruction in dockerfile(path):
        if instruction.keyword == "FROM":
            if current:
                found[current[0]] = Stage(current[0], current[1], tuple(body))
            words = [w for w in instruction.args.split() if not w.startswith("--")]
            named = len(words) == 3 and words[1].upper() == "AS"
            name = words[2] if named else str(len(found))
            assert name not in found, f"{relative}: two stages are named {name}"
            current, body = (name, words[0]), []
        else:
            assert current, (
                f"{relative}: {instruction.keyword} before the first FROM (global ARGs are not "
                "modelled by these checks; declare ARGs inside the stage that uses them)"
            )
            body.append(instruction)
    assert current, f"{relative} has no FROM"
    found[current[0]] = Stage(current[0], current[1], tuple(body))
    return found


_ARG_REF = re.compile(
    r"\$(?:\{(?P<braced>[A-Za-z_]\w*)(?P<op>:?[-?+])?(?P<word>[^}]*)\}|(?P<bare>[A-Za-z_]\w*))"
)
# Docker expands variables in these instructions itself; RUN gets the ARGs as environment
# variables, which its shell expands the same way. CMD, ENTRYPOINT and HEALTHCHECK are not
# expanded at build time.
_EXPANDED = {"ADD", "COPY", "ENV", "EXPOSE", "LABEL", "RUN", "USER", "VOLUME", "WORKDIR"}


def substitute(text: str, values: dict[str, str], where: str) -> str:
    """Expand the build args `values` in `text` ($X, ${X}, ${X:-word}, ${X:+word}, ${X:?msg})."""

    def one(match: re.Match[str]) -> str:
        name = match.group("braced") or match.group("bare")
        if name not in values:  # not a build arg in scope: an ENV or a run-time variable
            return match.group(0)
        value, op, word = values[name], match.group("op") or "", match.group("word")
        if op.endswith("?"):
            assert value, f"{where}: build arg {name} is not set ({word or 'required'})"
        if op.endswith("-"):
            return value or word
        if op.endswith("+"):
            return word if value else ""
        return value

    return _ARG_REF.sub(one, text)


@dataclass(frozen=True)
class Image:
    """What `docker build --target <target>` with some build args runs, stage by stage."""

    where: str  # for messages: "services/Dockerfile --target http (service api)"
    stages: dict[str, Stage]  # every stage the target needs, build args expanded, target last
    declared_args: frozenset[str]  # the ARGs those stages declare

    def chain(self) -> list[Stage]:
        """The target and the stages it is FROM: the layers of the final image."""
        chain = [self.stages[list(self.stages)[-1]]]
        while chain[0].base in self.stages:
            chain.insert(0, self.stages[chain[0].base])
        return chain

    def final(self, keyword: str) -> list[Instruction]:
        """The `keyword` instructions that end up in the image, in order."""
        return [i for stage in self.chain() for i in stage.body if i.keyword == keyword]

    def everywhere(self, keyword: str) -> list[Instruction]:
        """The `keyword` instructions of every stage the build runs."""
        return [i for stage in self.stages.values() for i in stage.body if i.keyword == keyword]

    def env(self) -> dict[str, str]:
        values: dict[str, str] = {}
        for instruction in self.final("ENV"):
            words = shlex.split(instruction.args)
            if words and "=" not in words[0]:  # legacy `ENV KEY value`
                values[words[0]] = " ".join(words[1:])
                continue
            for word in words:
                key, _, value = word.partition("=")
                values[key] = value
        return values


def build_image(path: Path, target: str, args: dict[str, str], where: str) -> Image:
    relative = path.relative_to(ROOT)
    all_stages = stages(path)
    assert target in all_stages, (
        f"{where}: {relative} has no stage `FROM ... AS {target}` "
        f"(its stages: {', '.join(all_stages)})"
    )
    needed: dict[str, Stage] = {}
    declared: set[str] = set()

    def visit(name: str) -> None:
        if name in needed:
            return
        stage = all_stages[name]
        if stage.base in all_stages:
            visit(stage.base)
        values: dict[str, str] = {}  # ARGs are scoped to their stage
        body = []
        for instruction in stage.body:
            if instruction.keyword == "ARG":
                for declaration in shlex.split(instruction.args):
                    key, _, default = declaration.partition("=")
                    values[key] = args.get(key, default)
                    declared.add(key)
            expanded = instruction
            if instruction.keyword in _EXPANDED:
                text = substitute(instruction.args, values, f"{where}, stage {name}")
                expanded = Instruction(instruction.keyword, text)
            body.append(expanded)
            source = re.search(r"--from=(\S+)", expanded.args)
            if expanded.keyword == "COPY" and source and source.group(1) in all_stages:
                visit(source.group(1))
        needed[name] = Stage(name, stage.base, tuple(body))

    visit(target)
    needed[target] = needed.pop(target)  # the target last
    return Image(f"{relative} --target {target} ({where})", needed, frozenset(declared))


@dataclass(frozen=True)
class Build:
    context: Path
    dockerfile: Path
    target: str | None
    args: dict[str, str]


def build_of(name: str) -> Build:
    """The `build` section of a compose service, interpolated with .env.example."""
    build = services()[name]["build"]
    if isinstance(build, str):
        build = {"context": build}
    context = (ROOT / build.get("context", ".")).resolve()
    raw = build.get("args") or {}
    if isinstance(raw, list):
        raw = dict(item.split("=", 1) if "=" in item else (item, None) for item in raw)
    args = {
        key: interpolate(str(value), f"service {name}: build arg {key}")
        for key, value in raw.items()
        if value is not None  # `- KEY` alone passes the host's variable: not in the repository
    }
    target = build.get("target")
    return Build(context, (context / build.get("dockerfile", "Dockerfile")).resolve(), target, args)


@cache
def image_of(name: str) -> Image:
    build = build_of(name)
    assert build.target, (
        f"service {name}: set build.target ({', '.join([*SERVICE_TARGETS, INIT_TARGET])}); "
        f"without it Docker builds the last stage of {build.dockerfile.relative_to(ROOT)}"
    )
    return build_image(build.dockerfile, build.target, build.args, f"service {name}")


def built_services() -> list[str]:
    return [name for name, service in services().items() if "build" in service]


def app_names() -> list[str]:
    """Compose services whose image is a service target (worker / http) of DOCKERFILE."""
    return [name for name in built_services() if build_of(name).target in SERVICE_TARGETS]


def init_jobs() -> list[str]:
    return [name for name in built_services() if build_of(name).target == INIT_TARGET]


@dataclass(frozen=True)
class AppService:
    compose_name: str
    target: str  # worker | http
    directory: Path  # services/<dir>, the SERVICE_DIR build arg
    dist: str  # the PACKAGE build arg: [project].name of directory
    module: str  # the MODULE build arg: python -m <module>, <module>.config.Settings


@cache
def app_service(name: str) -> AppService:
    """The build args of a service, checked against the workspace member they name."""
    build = build_of(name)
    where = f"service {name} (docker-compose.yml build.args)"
    missing = [arg for arg in SERVICE_ARGS if not build.args.get(arg)]
    assert not missing, f"{where}: set {missing} for {DOCKERFILE.relative_to(ROOT)}"
    service_dir, dist, module = (build.args[arg] for arg in SERVICE_ARGS)
    directory = (ROOT / service_dir).resolve()
    members = sorted(f"services/{p.parent.name}" for p in ROOT.glob("services/*/pyproject.toml"))
    not_a_service = f"{where}: SERVICE_DIR={service_dir} is not a workspace service ({members})"
    assert directory.parent == ROOT / "services", not_a_service
    assert (directory / "pyproject.toml").is_file(), not_a_service
    project = tomllib.loads((directory / "pyproject.toml").read_text())
    assert dist == project["project"]["name"], (
        f"{where}: PACKAGE={dist}, but {service_dir}/pyproject.toml names the package "
        f"{project['project']['name']!r}; `uv sync --package` needs that [project].name"
    )
    packages = project["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]
    assert f"src/{module}" in packages, (
        f"{where}: MODULE={module} is not what {service_dir} ships (its wheel packages: {packages})"
    )
    assert build.target is not None
    return AppService(name, build.target, directory, dist, module)


def settings_class(name: str) -> type[BaseSettings]:
    if name in app_names():
        module_name = f"{app_service(name).module}.config"
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise AssertionError(f"service {name}: {module_name} does not import: {exc}") from exc
        cls = getattr(module, "Settings", None)
    else:
        assert name in INIT_JOB_SETTINGS, (
            f"service {name} is built with --target {INIT_TARGET} but INIT_JOB_SETTINGS does "
            "not say which settings its command reads"
        )
        module_name, attr = INIT_JOB_SETTINGS[name].split(":")
        cls = getattr(importlib.import_module(module_name), attr)
    message = f"service {name}: no pydantic-settings Settings class to check its env against"
    assert isinstance(cls, type), message
    assert issubclass(cls, BaseSettings), message
    return cls


def fields(cls: type[BaseSettings]) -> set[str]:
    return {field.upper() for field in cls.model_fields}


def mounts(name: str) -> list[tuple[str, str, bool]]:
    """(source, target, read_only) of a service's volumes, short or long syntax."""
    result = []
    for volume in services()[name].get("volumes") or []:
        if isinstance(volume, dict):
            result.append(
                (volume.get("source", ""), volume["target"], bool(volume.get("read_only")))
            )
        else:
            parts = volume.split(":")
            read_only = len(parts) > 2 and "ro" in parts[2].split(",")
            result.append((parts[0], parts[1], read_only))
    return result


def container_ports(name: str) -> list[str]:
    ports = []
    for port in services()[name].get("ports") or []:
        if isinstance(port, dict):
            ports.append(str(port["target"]))
        else:
            mapped = interpolate(str(port), f"service {name}: ports")
            ports.append(mapped.rsplit(":", 1)[-1].split("/")[0])
    return ports


def command_text(name: str) -> str:
    command = services()[name].get("command") or ""
    return command if isinstance(command, str) else " ".join(command)


def uv_syncs(image: Image) -> list[list[str]]:
    """The arguments of every `uv sync` command in the RUN instructions of the build."""
    return [
        shlex.split(command.split("uv sync", 1)[1])
        for instruction in image.everywhere("RUN")
        for command in re.split(r"&&|;|\|\|", instruction.args)
        if "uv sync" in command
    ]


def selected_package(flags: list[str]) -> str | None:
    if "--package" not in flags or flags.index("--package") + 1 >= len(flags):
        return None
    return flags[flags.index("--package") + 1]


def dockerignored(path: str) -> bool:
    patterns = [
        line.strip()
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    ignored = False
    for line in patterns:
        negate = line.startswith("!")
        pattern = line.lstrip("!").rstrip("/")
        parts = PurePosixPath(path).parts
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        if any(fnmatch.fnmatch(prefix, pattern) for prefix in prefixes) or (
            pattern.startswith("**/") and any(fnmatch.fnmatch(part, pattern[3:]) for part in parts)
        ):
            ignored = not negate
    return ignored


# ------------------------------------------------------------------------------------ the tests


def test_compose_has_the_infrastructure_init_jobs_and_every_service() -> None:
    names = set(services())
    missing = {*INFRASTRUCTURE, *INIT_JOB_SETTINGS} - names
    assert not missing, f"docker-compose.yml lacks services {sorted(missing)}"
    for name, image in INFRASTRUCTURE.items():
        assert str(services()[name].get("image", "")).startswith(image), (
            f"service {name} should run image {image}, not {services()[name].get('image')}"
        )
    assert sorted(init_jobs()) == sorted(INIT_JOB_SETTINGS), (
        f"the services built with --target {INIT_TARGET} are {sorted(init_jobs())}; "
        f"INIT_JOB_SETTINGS expects {sorted(INIT_JOB_SETTINGS)}"
    )
    service_dirs = sorted(p.parent.name for p in ROOT.glob("services/*/pyproject.toml"))
    built_dirs = sorted(app_service(name).directory.name for name in app_names())
    assert built_dirs == service_dirs, (
        f"every services/<dir> needs exactly one compose service built with "
        f"SERVICE_DIR=services/<dir>: services/ has {service_dirs}, compose builds {built_dirs}"
    )


def test_one_dockerfile_builds_every_image() -> None:
    relative = DOCKERFILE.relative_to(ROOT)
    assert DOCKERFILE.is_file(), f"{relative} does not exist"
    leftovers = sorted(
        str(path.relative_to(ROOT))
        for pattern in ("services/*/Dockerfile", "deploy/**/Dockerfile")
        for path in ROOT.glob(pattern)
    )
    assert not leftovers, (
        f"{leftovers}: every image is a target of {relative}; delete the copies (compose "
        "selects the image with build.target and build.args)"
    )


@pytest.mark.parametrize("name", built_services())
def test_build_context_dockerfile_target_and_args(name: str) -> None:
    build = build_of(name)
    assert build.context.is_dir(), f"service {name}: build context {build.context} is missing"
    assert build.context == ROOT, (
        f"service {name}: the build context must be the repository root (the uv workspace "
        f"needs uv.lock and shared/), not {build.context}"
    )
    assert build.dockerfile == DOCKERFILE, (
        f"service {name}: build from {DOCKERFILE.relative_to(ROOT)} (dockerfile: "
        f"{DOCKERFILE.relative_to(ROOT)}), not {build.dockerfile}"
    )
    assert build.target in (*SERVICE_TARGETS, INIT_TARGET), (
        f"service {name}: build.target is {build.target!r}; use one of "
        f"{[*SERVICE_TARGETS, INIT_TARGET]}"
    )
    image = image_of(name)  # the target exists: FROM ... AS <target>
    unused = sorted(set(build.args) - image.declared_args)
    assert not unused, (
        f"{image.where}: build args {unused} are declared by no ARG of the stages it builds "
        f"({', '.join(image.stages)}); Docker would ignore them"
    )
    for stage in image.stages.values():
        for instruction in stage.body:
            if instruction.keyword not in {"COPY", "ADD"} or "--from=" in instruction.args:
                continue
            words = [w for w in shlex.split(instruction.args) if not w.startswith("--")]
            for source in words[:-1]:
                assert (build.context / source).exists(), (
                    f"{image.where}: COPY source {source} does not exist in the context"
                )
                assert not dockerignored(source), (
                    f"{image.where}: COPY source {source} is excluded by .dockerignore"
                )


def test_dockerignore_keeps_local_state_out_of_the_context() -> None:
    assert DOCKERIGNORE.is_file(), ".dockerignore is missing at the repository root"
    for path in [".git", ".stack", ".venv", "contracts/node_modules", ".env", ".mypy_cache"]:
        assert dockerignored(path), f".dockerignore must exclude {path}"
    for path in ["uv.lock", "pyproject.toml", "shared/src", "contracts/src", ".env.example"]:
        assert not dockerignored(path), f".dockerignore must not exclude {path}"


@pytest.mark.parametrize("name", app_names())
def test_service_image_runs_its_own_package(name: str) -> None:
    app = app_service(name)  # SERVICE_DIR, PACKAGE and MODULE name one workspace service
    image = image_of(name)
    source = app.directory / "src" / app.module
    for needed in ("config.py", "__main__.py"):
        assert (source / needed).is_file(), (
            f"service {name}: MODULE={app.module} needs {(source / needed).relative_to(ROOT)}"
        )
    settings = settings_class(name)  # imports <MODULE>.config.Settings
    target = "http" if "HTTP_PORT" in fields(settings) else "worker"
    assert app.target == target, (
        f"service {name}: {settings.__module__}.Settings "
        f"{'reads' if target == 'http' else 'has no'} HTTP_PORT, so build.target must be "
        f"{target}, not {app.target}"
    )

    entrypoints = image.final("ENTRYPOINT")
    assert entrypoints, f"{image.where} has no ENTRYPOINT"
    assert entrypoints[-1].exec_form() == SERVICE_ENTRYPOINT, (
        f"{image.where}: ENTRYPOINT must be the exec form {json.dumps(SERVICE_ENTRYPOINT)}, "
        f"got {entrypoints[-1].args}"
    )
    module = image.env().get("SERVICE_MODULE")
    assert module == app.module, (
        f"{image.where}: the image runs python -m {module!r}; ENV SERVICE_MODULE must be baked "
        f"from the MODULE build arg ({app.module!r}) in a stage that declares ARG MODULE"
    )
    service = services()[name]
    for override in ("entrypoint", "command"):
        assert override not in service, (
            f"service {name} overrides the image's {override}; the image must run "
            f"python -m {app.module} as built"
        )

    assert len(image.stages) >= 2, f"{image.where} must be multi-stage (build, then runtime)"
    for stage in image.stages.values():
        if stage.base not in image.stages:
            assert stage.base == PYTHON_BASE, (
                f"{image.where}: every stage must be FROM {PYTHON_BASE}: {stage.base}"
            )
    runs = " ".join(i.args for i in image.everywhere("RUN"))
    assert f"pip install --no-cache-dir uv=={UV_VERSION}" in runs or (
        f"pip install uv=={UV_VERSION}" in runs
    ), f"{image.where}: install uv from PyPI with pip install uv=={UV_VERSION}"
    syncs = uv_syncs(image)
    assert syncs, f"{image.where}: no `uv sync`"
    for flags in syncs:
        assert {"--frozen", "--no-dev", "--no-editable"} <= set(flags), (
            f"{image.where}: uv sync {' '.join(flags)} (frozen, no dev, wheels not editable)"
        )
        assert selected_package(flags) == app.dist, (
            f"{image.where}: uv sync must select --package {app.dist} "
            f"(the PACKAGE build arg), got: uv sync {' '.join(flags)}"
        )

    copies = [i.args for i in image.final("COPY")]
    assert any("/app/.venv" in c and "--from=" in c for c in copies), (
        f"{image.where}: the runtime stage must copy /app/.venv from the build stage"
    )
    users = [i.args.split(":")[0] for i in image.final("USER")]
    assert users, f"{image.where}: the runtime stage must switch to a non-root USER"
    assert users[-1] not in {"root", "0"}, f"{image.where}: runs as {users[-1]}"

    healthchecks = [i.args for i in image.final("HEALTHCHECK")]
    if app.target == "http":
        assert healthchecks, f"{image.where}: an HTTP service needs a HEALTHCHECK on /healthz"
        for needed in ("/healthz", "HTTP_PORT"):
            assert needed in healthchecks[-1], (
                f"{image.where}: the HEALTHCHECK must request /healthz on $HTTP_PORT"
            )
        for tool in ("curl", "wget"):
            assert tool not in healthchecks[-1], (
                f"{image.where}: {PYTHON_BASE} has no {tool}; use Python's urllib"
            )


def _check_settings_env(name: str, env: dict[str, str]) -> type[BaseSettings]:
    cls = settings_class(name)
    problems = env_problems(name, cls, set(env))
    assert not problems, "\n".join(problems)
    return cls


def sample_deployment_record() -> str:
    """What `python -m devstack.deploy` writes, with made-up addresses."""
    from devstack.deploy import DeploymentRecord
    from reservesync.contracts import SystemContract

    record = DeploymentRecord.model_validate(
        {
            "chain_id": 31337,
            "deployer": "0x" + "aa" * 20,
            "committee": "0x" + "bb" * 20,
            "contracts": {
                contract.value: {"address": f"0x{index + 1:040x}", "deployed_block": index + 1}
                for index, contract in enumerate(SystemContract)
            },
        }
    )
    return record.model_dump_json(indent=2)


def deployment_file() -> str:
    """The deployment record's path inside the containers: chain-listener reads it."""
    env = container_env("chain-listener")
    assert "CHAIN_CONTRACTS_FILE" in env or "CHAIN_CONTRACTS" in env, (
        "chain-listener gets neither CHAIN_CONTRACTS_FILE nor CHAIN_CONTRACTS"
    )
    return env["CHAIN_CONTRACTS_FILE"]


@pytest.mark.parametrize("name", [*app_names(), *INIT_JOB_SETTINGS])
def test_environment_matches_the_settings(
    name: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    env = container_env(name)
    cls = _check_settings_env(name, env)

    # The settings must also accept the values: load them exactly as the container would.
    for key in fields(cls) | set(PENDING_SETTINGS.get(name, {})):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        if key == "CHAIN_CONTRACTS_FILE" and value == deployment_file():
            # lives on the deployment volume; stand in the record the deploy job writes there
            record = tmp_path / "deployment.json"
            record.write_text(sample_deployment_record())
            monkeypatch.setenv(key, str(record))
        else:
            monkeypatch.setenv(key, value)
    # What an operator enabling the `reconcile` profile puts into .env.
    for key, value in RECONCILE_ENV.items():
        if env.get(key) == "":
            monkeypatch.setenv(key, value)
    if any(is_example_secret(value) for value in env.values()):
        # Copied from .env.example and never edited: refused, naming the variable.
        with pytest.raises(ValidationError, match=r"holds an example value of \.env\.example"):
            cls()
        for key, value in env.items():
            if is_example_secret(value):
                monkeypatch.setenv(key, own_secret(value))
    try:
        cls()
    except Exception as exc:
        pytest.fail(f"service {name}: {cls.__module__}.{cls.__name__} rejects its env: {exc}")


RECONCILE_ENV = {
    "ORACLE_USERS_URL": "https://oracle.example/users",
    "ORACLE_OPERATIONS_URL": "https://oracle.example/operations",
    "ORACLE_STATE_KEY": "12" * 32,
}


def test_env_example_documents_exactly_what_compose_reads() -> None:
    lines = ENV_EXAMPLE.read_text().splitlines()
    for index, line in enumerate(lines):
        if line.strip() and not line.startswith("#"):
            previous = lines[index - 1] if index > 0 else ""
            assert previous.startswith("# "), (
                f".env.example: {line.split('=')[0]} needs a one-line comment above it"
            )
    used: set[str] = set()
    for index, text in enumerate(_walk_strings(compose())):
        interpolate(text, f"docker-compose.yml string #{index}", used)
    # COMPOSE_PROFILES is read by Compose itself, not interpolated into the file.
    unused = sorted(set(env_example()) - used - {"COMPOSE_PROFILES"})
    assert not unused, f".env.example defines {unused}, which docker-compose.yml never reads"
    undocumented = sorted(used - set(env_example()))
    assert not undocumented, f"docker-compose.yml reads {undocumented}; document them"

    for key, value in env_example().items():
        if key.endswith("PASSWORD"):
            assert value.startswith("change-me"), (
                f".env.example: {key} must be an obvious placeholder (change-me-...)"
            )
    key = env_example().get("FIELD_ENCRYPTION_KEY", "")
    assert re.fullmatch(r"[0-9a-f]{64}", key), (
        ".env.example: FIELD_ENCRYPTION_KEY must be a placeholder of 64 hex characters"
    )


def test_each_database_client_uses_its_own_role() -> None:
    from devstack.database import ROLES
    from devstack.postgres import DATABASE

    assert set(DATABASE_ROLE.values()) <= set(ROLES)
    clients = {name for name in services() if "DATABASE_URL" in container_env(name)}
    assert clients == set(DATABASE_ROLE), (
        f"services with a DATABASE_URL are {sorted(clients)}; expected {sorted(DATABASE_ROLE)}"
    )
    for name, role in DATABASE_ROLE.items():
        url = container_env(name)["DATABASE_URL"]
        match = re.fullmatch(r"postgresql(?:\+asyncpg)?://([^:@/]+):([^@]+)@([^/]+)/(\w+)", url)
        assert match, f"service {name}: DATABASE_URL {url!r} is not postgresql://user:pw@host/db"
        user, password, host, database = match.groups()
        assert user == role, f"service {name} must connect as {role}, not {user}"
        assert host.split(":")[0] == "postgres", f"service {name}: host {host} is not postgres"
        assert database == DATABASE, f"service {name}: database {database} is not {DATABASE}"
        assert password == env_example()[f"{role.upper()}_PASSWORD"], (
            f"service {name}: the password must be ${{{role.upper()}_PASSWORD}} from .env"
        )


def test_postgres_init_script_creates_the_roles_and_database() -> None:
    from devstack.database import ROLES
    from devstack.postgres import DATABASE

    assert PG_INIT_SCRIPT.is_file(), f"{PG_INIT_SCRIPT} is missing"
    script = PG_INIT_SCRIPT.read_text()
    targets = {target: source for source, target, _ in mounts("postgres") if source.startswith(".")}
    mounted = [t for t in targets if t.startswith("/docker-entrypoint-initdb.d/")]
    assert mounted, "postgres must mount deploy/postgres/init-roles.sh into initdb.d"
    assert (ROOT / targets[mounted[0]]).resolve() == PG_INIT_SCRIPT, (
        f"postgres mounts {targets[mounted[0]]} into initdb.d, not {PG_INIT_SCRIPT}"
    )
    assert mounted[0].endswith(".sh"), "the entrypoint only runs *.sh / *.sql files"
    for role in ROLES:
        assert re.search(rf"CREATE ROLE {role} LOGIN (BYPASSRLS )?PASSWORD", script), (
            f"init-roles.sh must create the login role {role}"
        )
    # The writer's COPY fast path is refused under row-level security (as the local stack's
    # devstack.database.provision sets it).
    assert "CREATE ROLE rs_writer LOGIN BYPASSRLS" in script, "rs_writer must bypass RLS"
    assert f"DATABASE={DATABASE}" in script, f"init-roles.sh must create database {DATABASE}"
    assert "OWNER rs_migrator" in script, "init-roles.sh: the database belongs to rs_migrator"
    assert "REVOKE CREATE ON SCHEMA public FROM PUBLIC" in script
    assert "GRANT CONNECT" in script
    env = container_env("postgres")
    needed = set(re.findall(r"\$\{?(RS_[A-Z_]+|POSTGRES_[A-Z_]+)", script))
    missing = sorted(needed - set(env) - {"POSTGRES_USER"})  # the image defaults POSTGRES_USER
    assert not missing, f"init-roles.sh reads {missing}; set them in postgres' environment"
    for role in ROLES:
        assert env.get(f"{role.upper()}_PASSWORD") == env_example()[f"{role.upper()}_PASSWORD"]


def test_services_are_scalable() -> None:
    for name, service in services().items():
        assert "container_name" not in service, (
            f"service {name} has container_name; that forbids `docker compose up --scale`"
        )
    assert not services()["db-writer"].get("ports"), (
        "db-writer must publish no host port, or `--scale db-writer=3` collides on it"
    )


SCHEDULED_JOBS = {"oracle-reconcile"}
"""Jobs of the init image that run on a schedule (`--every`): they restart like services."""


def test_dependencies_exist_and_wait_for_the_right_condition() -> None:
    jobs = set(init_jobs()) - SCHEDULED_JOBS
    for name, service in services().items():
        depends = service.get("depends_on") or {}
        assert isinstance(depends, dict), (
            f"service {name}: use the long depends_on syntax with a condition per dependency"
        )
        for target, spec in depends.items():
            assert target in services(), f"service {name} depends on unknown service {target}"
            condition = (spec or {}).get("condition")
            if target in jobs:
                expected = "service_completed_successfully"
            elif "healthcheck" in services()[target]:
                expected = "service_healthy"
            else:
                expected = "service_started"
            assert condition == expected, (
                f"service {name} depends on {target} with {condition!r}; use {expected!r}"
            )
    for job in jobs:
        assert str(services()[job].get("restart", "no")) == "no", (
            f"init job {job} must not restart, or it would run again and again"
        )

    def needs(name: str, job: str) -> None:
        assert job in (services()[name].get("depends_on") or {}), f"{name} must wait for {job}"

    for name in app_names():
        env = container_env(name)
        assert services()[name].get("restart") == "unless-stopped", (
            f"service {name} needs restart: unless-stopped"
        )
        if "KAFKA_BOOTSTRAP_SERVERS" in env:
            needs(name, "create-topics")
        if "DATABASE_URL" in env:
            needs(name, "migrate")
    needs("chain-listener", "deploy-contracts")

    # no cycles
    state: dict[str, int] = {}

    def visit(name: str, path: list[str]) -> None:
        if state.get(name) == 2:
            return
        assert state.get(name) != 1, f"depends_on cycle: {' -> '.join([*path, name])}"
        state[name] = 1
        for target in services()[name].get("depends_on") or {}:
            visit(target, [*path, name])
        state[name] = 2

    for name in services():
        visit(name, [])


def http_services() -> list[str]:
    """Built with --target http; test_service_image_runs_its_own_package checks that this
    agrees with the service's Settings (HTTP_PORT)."""
    return [name for name in app_names() if build_of(name).target == "http"]


@pytest.mark.parametrize("name", http_services())
def test_http_services_publish_their_port_and_report_health(name: str) -> None:
    env = container_env(name)
    assert env.get("HTTP_HOST") == "0.0.0.0", (
        f"service {name}: HTTP_HOST must be 0.0.0.0 in a container (the default is loopback)"
    )
    port = env.get("HTTP_PORT")
    assert port, f"service {name}: set HTTP_PORT"
    assert port in container_ports(name), (
        f"service {name} listens on {port} but publishes container ports {container_ports(name)}"
    )
    check = services()[name].get("healthcheck")
    assert check, f"service {name}: an HTTP service needs a healthcheck"
    test = check["test"] if isinstance(check["test"], str) else " ".join(check["test"])
    for needed in ("/healthz", "HTTP_PORT"):
        assert needed in test, (
            f"service {name}: the healthcheck must request /healthz on $HTTP_PORT: {test}"
        )


def test_named_volumes_and_the_deployment_record() -> None:
    declared = set(compose().get("volumes") or {})
    for name in services():
        for source, _target, _ in mounts(name):
            if source and not source.startswith((".", "/")):
                assert source in declared, f"service {name} mounts undeclared volume {source}"
    for name, data in [("kafka", "/var/lib/kafka/data"), ("postgres", "/var/lib/postgresql/data")]:
        assert any(t == data and s in declared for s, t, _ in mounts(name)), (
            f"{name} must keep {data} on a named volume"
        )

    record = PurePosixPath(deployment_file())

    def volume_holding(name: str) -> tuple[str, bool]:
        for source, target, read_only in mounts(name):
            if source in declared and record.is_relative_to(target):
                return source, read_only
        raise AssertionError(f"service {name} does not mount a named volume holding {record}")

    listener_volume, listener_ro = volume_holding("chain-listener")
    deploy_volume, deploy_ro = volume_holding("deploy-contracts")
    assert listener_volume == deploy_volume, (
        f"chain-listener reads {record} from volume {listener_volume}, "
        f"but deploy-contracts writes volume {deploy_volume}"
    )
    assert listener_ro, "chain-listener must mount the deployment volume read-only"
    assert not deploy_ro, "deploy-contracts must be able to write the deployment volume"
    assert f"--out {record}" in command_text("deploy-contracts"), (
        f"deploy-contracts must write the record to {record} (--out {record})"
    )


def test_init_jobs_run_modules_that_exist() -> None:
    assert init_jobs(), f"no compose service is built with --target {INIT_TARGET}"
    for job in init_jobs():
        modules = re.findall(r"(?:^|\s)-m\s+([\w.]+)", command_text(job))
        assert modules, f"init job {job} runs no `python -m` module"
        for module in modules:
            assert importlib.util.find_spec(module) is not None, (
                f"init job {job} runs python -m {module}, which does not exist"
            )
        image = image_of(job)
        syncs = uv_syncs(image)
        assert syncs, f"{image.where}: no `uv sync`"
        for flags in syncs:
            assert {"--frozen", "--no-dev"} <= set(flags), (
                f"{image.where}: uv sync {' '.join(flags)}"
            )
            assert selected_package(flags) == INIT_PACKAGE, (
                f"{image.where}: uv sync must select --package {INIT_PACKAGE} (devstack.deploy + "
                f"shared): set the PACKAGE build arg, got uv sync {' '.join(flags)}"
            )
        runs = " ".join(i.args for i in image.everywhere("RUN"))
        assert "scripts/compile.js" in runs, f"{image.where}: compile the contracts with solc"
        build_dir = re.search(r"--build\s+(\S+)", command_text("deploy-contracts"))
        assert build_dir, "deploy-contracts must pass --build <artifacts dir>"
        copied = [i.args.split()[-1] for i in image.final("COPY")]
        assert build_dir.group(1) in copied, (
            f"deploy-contracts deploys from {build_dir.group(1)}, which {image.where} "
            f"never fills (it copies to {copied})"
        )
        users = [i.args.split(":")[0] for i in image.final("USER")]
        assert users, f"{image.where}: the runtime stage must switch to a non-root USER"
        assert users[-1] not in {"root", "0"}, f"{image.where}: runs as {users[-1]}"


def test_pending_settings_are_still_pending() -> None:
    for name, variables in PENDING_SETTINGS.items():
        read = sorted(set(variables) & env_names(settings_of(name)))
        assert not read, (
            f"{name}'s Settings now reads {read}: delete them from PENDING_SETTINGS "
            "(tests/deploy/support/workspace.py) so they are checked like every other setting"
        )


def test_every_long_running_service_reports_health() -> None:
    jobs = set(init_jobs())
    for name, service in services().items():
        if name in jobs:
            continue
        assert service.get("healthcheck"), (
            f"service {name} runs until stopped but has no healthcheck, so nothing can wait "
            "for it with service_healthy and `docker compose ps` cannot say it is broken"
        )


@pytest.mark.parametrize("name", [n for n in app_names() if build_of(n).target == "worker"])
def test_workers_serve_metrics_and_are_checked_on_their_heartbeat(name: str) -> None:
    env = container_env(name)
    assert env.get("METRICS_HOST") == "0.0.0.0", (
        f"service {name}: METRICS_HOST must be 0.0.0.0 (the default is loopback, unscrapable)"
    )
    assert env.get("METRICS_PORT", "0") != "0", f"service {name}: set METRICS_PORT"
    test = (services()[name].get("healthcheck") or {}).get("test", "")
    text = test if isinstance(test, str) else " ".join(test)
    for needed in ("/healthz", "METRICS_PORT"):
        assert needed in text, (
            f"service {name}: the healthcheck must request /healthz on $METRICS_PORT: {text}"
        )
    image = image_of(name)
    healthchecks = [i.args for i in image.final("HEALTHCHECK")]
    assert healthchecks, f"{image.where}: a worker image needs a HEALTHCHECK"
    for needed in ("/healthz", "METRICS_PORT"):
        assert needed in healthchecks[-1], (
            f"{image.where}: the HEALTHCHECK must request /healthz on $METRICS_PORT"
        )
    assert image.env().get("METRICS_HOST") == "0.0.0.0", (
        f"{image.where}: ENV METRICS_HOST=0.0.0.0, or the image's metrics are unreachable"
    )
    exposed = [i.args.split("/")[0] for i in image.final("EXPOSE")]
    assert image.env().get("METRICS_PORT") in exposed, (
        f"{image.where}: ENV METRICS_PORT={image.env().get('METRICS_PORT')} must be a port the "
        f"image EXPOSEs ({exposed})"
    )
