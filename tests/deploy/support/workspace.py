"""What the deployment checks need to know about the code they deploy: the services of the uv
workspace, the module each one runs, its pydantic `Settings`, and its Prometheus metrics.

Shared by the compose, Kubernetes and dashboard checks, so they judge the same facts.
"""

from __future__ import annotations

import importlib
import importlib.util
import tomllib
from functools import cache
from pathlib import Path

from prometheus_client import REGISTRY
from pydantic_settings import BaseSettings
from reservesync.settings import EXAMPLE_KEYS, EXAMPLE_MARKER

ROOT = Path(__file__).resolve().parents[3]

# The one-shot jobs of the init image, and the settings class of the code each one runs.
INIT_JOB_SETTINGS: dict[str, str] = {
    # python -m reservesync.create_topics: topics, then Kafka users and ACLs
    "create-topics": "reservesync.kafka_acl:AccessSettings",
    "migrate": "reservesync.settings:DatabaseSettings",  # python -m reservesync.db.migrate
    # the deploy script takes --rpc-url from $CHAIN_RPC_URL, the ChainSettings name for it
    "deploy-contracts": "reservesync.settings:ChainSettings",
    # python -m oracle_logger.reconcile --every N (a long-running job of the init image)
    "oracle-reconcile": "oracle_logger.reconcile:ReconcileSettings",
}

# Jobs only the Kubernetes deployment has (compose's postgres container makes the roles with
# deploy/postgres/init-roles.sh on its first start).
K8S_ONLY_JOBS: dict[str, str] = {
    "db-roles": "reservesync.db.roles:RolesSettings",  # python -m reservesync.db.roles
}

# Which Postgres role each database client connects as (SPEC section 5, devstack.database).
DATABASE_ROLE: dict[str, str] = {
    "migrate": "rs_migrator",
    "oracle-reconcile": "rs_health",
    "db-writer": "rs_writer",
    "health": "rs_health",
    "api": "rs_api",
    "oracle-logger": "rs_oracle_logger",
}


def service_names() -> list[str]:
    """The workspace's services by directory name (services/<name>/pyproject.toml), which is
    also their name in docker-compose.yml and Kubernetes."""
    return sorted(p.parent.name for p in ROOT.glob("services/*/pyproject.toml"))


@cache
def service_module(name: str) -> str:
    """The package services/<name> ships (`python -m <module>` runs it)."""
    project = tomllib.loads((ROOT / "services" / name / "pyproject.toml").read_text())
    packages: list[str] = project["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]
    assert len(packages) == 1, f"services/{name} ships {packages}; expected one package"
    return packages[0].removeprefix("src/")


def settings_of(name: str) -> type[BaseSettings]:
    module_name = f"{service_module(name)}.config"
    cls = getattr(importlib.import_module(module_name), "Settings", None)
    assert isinstance(cls, type), f"{module_name} has no Settings class"
    assert issubclass(cls, BaseSettings), f"{module_name}.Settings is not a pydantic Settings"
    return cls


def env_names(cls: type[BaseSettings]) -> set[str]:
    """The environment variables a Settings class reads (no prefix, case-insensitive)."""
    return {field.upper() for field in cls.model_fields}


def required_env(cls: type[BaseSettings]) -> set[str]:
    return {field.upper() for field, info in cls.model_fields.items() if info.is_required()}


def env_problems(name: str, cls: type[BaseSettings], given: set[str]) -> list[str]:
    """What is wrong with handing `given` variables to `cls` (empty when nothing is)."""
    problems = []
    unknown = sorted(given - env_names(cls))
    if unknown:
        problems.append(
            f"{name} gets {unknown}, which {cls.__module__}.{cls.__name__} does not read "
            f"(it reads {sorted(env_names(cls))}); fix the name"
        )
    missing = sorted(required_env(cls) - given)
    if missing:
        problems.append(f"{name} does not get its required settings {missing}")
    return problems


@cache
def metric_labels() -> dict[str, frozenset[str]]:
    """Every series name the services can expose, with its label names.

    Imports each service's metrics module (and the shared one, if any) into the default
    registry, so the process, platform and GC collectors every service exposes count too.
    Counters expose `<name>_total` and `<name>_created`, histograms `_bucket`/`_sum`/`_count`.
    """
    for name in service_names():
        module = f"{service_module(name)}.metrics"
        if importlib.util.find_spec(module) is not None:
            importlib.import_module(module)
    if importlib.util.find_spec("reservesync.metrics") is not None:
        importlib.import_module("reservesync.metrics")
    series: dict[str, frozenset[str]] = {}
    for family in REGISTRY.collect():
        for sample in family.samples:
            labels = set(sample.labels)
            series[sample.name] = frozenset(series.get(sample.name, frozenset()) | labels)
        # A labelled metric has no samples until a label set is used, and prometheus_client
        # has no public accessor for the label names it was declared with.
        collector = REGISTRY._names_to_collectors.get(family.name)
        label_names = frozenset(getattr(collector, "_labelnames", ()))
        for suffix in _SUFFIXES.get(family.type, ("",)):
            extra = {"le"} if suffix == "_bucket" else set()
            series[family.name + suffix] = frozenset(
                series.get(family.name + suffix, frozenset()) | label_names | extra
            )
    return series


_SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "summary": ("", "_sum", "_count", "_created"),
    "gauge": ("",),
    "info": ("_info",),
}


def init_job_settings(name: str) -> type[BaseSettings]:
    where = INIT_JOB_SETTINGS.get(name) or K8S_ONLY_JOBS[name]
    module_name, attr = where.split(":")
    cls = getattr(importlib.import_module(module_name), attr)
    assert isinstance(cls, type), f"{where} is not a class"
    assert issubclass(cls, BaseSettings), f"{where} is not a Settings class"
    return cls


def is_example_secret(value: str) -> bool:
    """A value of .env.example (or the Kubernetes example Secrets): the services refuse them."""
    return EXAMPLE_MARKER in value or any(key in value.lower() for key in EXAMPLE_KEYS)


def own_secret(value: str) -> str:
    """`value` as an operator who replaced the example secrets would have it."""
    for key in EXAMPLE_KEYS:
        value = value.replace(key, "3c" * 32)
    return value.replace(EXAMPLE_MARKER, "own-secret")
