"""The container deployment checked against the code it runs: docker-compose.yml as Docker Compose
renders it with .env.example (tests/deploy/compose.py), .env.example itself and the Postgres init
script. What the images hold is test_images.py's. No Docker engine is needed.

Compose itself refuses unknown services and volumes and dependency cycles when it renders; these
are the project's own promises. Every check fails with a message naming the service, the file
and what to change.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path, PurePosixPath

import pytest
from pydantic import ValidationError

from tests.deploy.support.compose import (
    ENV_EXAMPLE,
    command_text,
    container_ports,
    env_example,
    environment,
    healthcheck_text,
    mounts,
    service,
    services,
    variables,
)
from tests.deploy.support.images import (
    INIT_TARGET,
    app_names,
    app_service,
    init_jobs,
    settings_class,
    target_of,
)
from tests.deploy.support.workspace import (
    DATABASE_ROLE,
    INIT_JOB_SETTINGS,
    ROOT,
    env_names,
    env_problems,
    is_example_secret,
    own_secret,
    service_names,
)

PG_INIT_SCRIPT = ROOT / "deploy" / "postgres" / "init-roles.sh"
INFRASTRUCTURE = {
    "kafka": "apache/kafka:4.1.1",
    "postgres": "postgres:16",
    "chain": "ghcr.io/foundry-rs/foundry",
    "bitcoin": "bitcoin/bitcoin:28.1",
}
SCHEDULED_JOBS = {"oracle-reconcile"}
"""Jobs of the init image that run on a schedule (`--every`): they restart like services."""

# What an operator enabling the `reconcile` profile puts into .env.
RECONCILE_ENV = {
    "ORACLE_USERS_URL": "https://oracle.example/users",
    "ORACLE_OPERATIONS_URL": "https://oracle.example/operations",
    "ORACLE_STATE_KEY": "12" * 32,
}


def deployment_file() -> str:
    """The deployment record's path inside the containers: chain-listener reads it."""
    env = environment("chain-listener")
    assert "CHAIN_CONTRACTS_FILE" in env, "chain-listener gets no CHAIN_CONTRACTS_FILE"
    return env["CHAIN_CONTRACTS_FILE"]


def sample_deployment_record() -> str:
    """What `python -m devstack.deploy` writes, with made-up addresses."""
    from devstack.deploy import DeploymentRecord
    from reservesync.contracts import SystemContract

    contracts = {
        contract.value: {"address": f"0x{index + 1:040x}", "deployed_block": index + 1}
        for index, contract in enumerate(SystemContract)
    }
    record = {"chain_id": 31337, "deployer": "0x" + "aa" * 20, "committee": "0x" + "bb" * 20}
    return DeploymentRecord.model_validate({**record, "contracts": contracts}).model_dump_json()


# ------------------------------------------------------------------------------------ the tests


def test_compose_has_the_infrastructure_init_jobs_and_every_service() -> None:
    missing = {*INFRASTRUCTURE, *INIT_JOB_SETTINGS} - set(services())
    assert not missing, f"docker-compose.yml lacks services {sorted(missing)}"
    for name, expected in INFRASTRUCTURE.items():
        assert str(service(name).get("image", "")).startswith(expected), (
            f"service {name} should run image {expected}, not {service(name).get('image')}"
        )
    assert sorted(init_jobs()) == sorted(INIT_JOB_SETTINGS), (
        f"the services built with --target {INIT_TARGET} are {sorted(init_jobs())}; "
        f"INIT_JOB_SETTINGS expects {sorted(INIT_JOB_SETTINGS)}"
    )
    built_dirs = sorted(app_service(name).directory.name for name in app_names())
    assert built_dirs == service_names(), (
        f"every services/<dir> needs exactly one compose service built with "
        f"SERVICE_DIR=services/<dir>: services/ has {service_names()}, compose builds {built_dirs}"
    )


@pytest.mark.parametrize("name", [*app_names(), *INIT_JOB_SETTINGS])
def test_environment_matches_the_settings(
    name: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    env = environment(name)
    cls = settings_class(name)
    problems = env_problems(name, cls, set(env))
    assert not problems, "\n".join(problems)

    # The settings must also accept the values: load them exactly as the container would.
    for key in env_names(cls):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    if env.get("CHAIN_CONTRACTS_FILE") == deployment_file():
        # lives on the deployment volume; stand in the record the deploy job writes there
        record = tmp_path / "deployment.json"
        record.write_text(sample_deployment_record())
        monkeypatch.setenv("CHAIN_CONTRACTS_FILE", str(record))
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


def test_env_example_documents_exactly_what_compose_reads() -> None:
    lines = ENV_EXAMPLE.read_text().splitlines()
    for previous, line in zip(["", *lines], lines, strict=False):
        if line.strip() and not line.startswith("#"):
            assert previous.startswith("# "), (
                f".env.example: {line.split('=')[0]} needs a one-line comment above it"
            )
    keys = [line.split("=", 1)[0] for line in lines if line.strip() and not line.startswith("#")]
    twice = sorted({key for key in keys if keys.count(key) > 1})
    assert not twice, f".env.example sets {twice} more than once (the last one wins)"
    malformed = [key for key in keys if not re.fullmatch(r"[A-Z][A-Z0-9_]*", key)]
    assert not malformed, f".env.example: {malformed} are not KEY=VALUE lines of upper-case names"
    # COMPOSE_PROFILES is read by Compose itself, not interpolated into the file.
    unused = sorted(set(env_example()) - variables() - {"COMPOSE_PROFILES"})
    assert not unused, f".env.example defines {unused}, which docker-compose.yml never reads"
    undocumented = sorted(variables() - set(env_example()))
    assert not undocumented, f"docker-compose.yml reads {undocumented}; document them"

    for key, value in env_example().items():
        if key.endswith("PASSWORD"):
            assert value.startswith("change-me"), (
                f".env.example: {key} must be an obvious placeholder (change-me-...)"
            )
    assert re.fullmatch(r"[0-9a-f]{64}", env_example().get("FIELD_ENCRYPTION_KEY", "")), (
        ".env.example: FIELD_ENCRYPTION_KEY must be a placeholder of 64 hex characters"
    )


def test_each_database_client_uses_its_own_role() -> None:
    from devstack.database import ROLES
    from devstack.postgres import DATABASE

    assert set(DATABASE_ROLE.values()) <= set(ROLES)
    clients = {name for name in services() if "DATABASE_URL" in environment(name)}
    assert clients == set(DATABASE_ROLE), (
        f"services with a DATABASE_URL are {sorted(clients)}; expected {sorted(DATABASE_ROLE)}"
    )
    for name, role in DATABASE_ROLE.items():
        url = environment(name)["DATABASE_URL"]
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
    initdb = [m for m in mounts("postgres") if m.target.startswith("/docker-entrypoint-initdb.d/")]
    assert initdb, "postgres must mount deploy/postgres/init-roles.sh into initdb.d"
    assert Path(initdb[0].source).resolve() == PG_INIT_SCRIPT, (
        f"postgres mounts {initdb[0].source} into initdb.d, not {PG_INIT_SCRIPT}"
    )
    assert initdb[0].target.endswith(".sh"), "the entrypoint only runs *.sh / *.sql files"
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
    env = environment("postgres")
    needed = set(re.findall(r"\$\{?(RS_[A-Z_]+|POSTGRES_[A-Z_]+)", script))
    missing = sorted(needed - set(env) - {"POSTGRES_USER"})  # the image defaults POSTGRES_USER
    assert not missing, f"init-roles.sh reads {missing}; set them in postgres' environment"
    for role in ROLES:
        assert env.get(f"{role.upper()}_PASSWORD") == env_example()[f"{role.upper()}_PASSWORD"]


def test_services_are_scalable() -> None:
    for name, found in services().items():
        assert "container_name" not in found, (
            f"service {name} has container_name; that forbids `docker compose up --scale`"
        )
    assert not service("db-writer").get("ports"), (
        "db-writer must publish no host port, or `--scale db-writer=3` collides on it"
    )


def test_dependencies_wait_for_the_right_condition() -> None:
    jobs = set(init_jobs()) - SCHEDULED_JOBS
    for name, found in services().items():
        for target, spec in (found.get("depends_on") or {}).items():
            if target in jobs:
                expected = "service_completed_successfully"
            elif "healthcheck" in service(target):
                expected = "service_healthy"
            else:
                expected = "service_started"
            assert spec["condition"] == expected, (
                f"service {name} depends on {target} with {spec['condition']!r}; use {expected!r}"
            )
    for job in jobs:
        assert service(job).get("restart", "no") == "no", (
            f"init job {job} must not restart, or it would run again and again"
        )

    def needs(name: str, job: str) -> None:
        assert job in (service(name).get("depends_on") or {}), f"{name} must wait for {job}"

    for name in app_names():
        assert service(name).get("restart") == "unless-stopped", (
            f"service {name} needs restart: unless-stopped"
        )
        if "KAFKA_BOOTSTRAP_SERVERS" in environment(name):
            needs(name, "create-topics")
        if "DATABASE_URL" in environment(name):
            needs(name, "migrate")
    needs("chain-listener", "deploy-contracts")


@pytest.mark.parametrize("name", [n for n in app_names() if target_of(n) == "http"])
def test_http_services_publish_their_port_and_report_health(name: str) -> None:
    env = environment(name)
    assert env.get("HTTP_HOST") == "0.0.0.0", (
        f"service {name}: HTTP_HOST must be 0.0.0.0 in a container (the default is loopback)"
    )
    port = env.get("HTTP_PORT")
    assert port, f"service {name}: set HTTP_PORT"
    assert port in container_ports(name), (
        f"service {name} listens on {port} but publishes container ports {container_ports(name)}"
    )
    for needed in ("/healthz", "HTTP_PORT"):
        assert needed in healthcheck_text(name), (
            f"service {name}: the healthcheck must request /healthz on $HTTP_PORT: "
            f"{healthcheck_text(name)!r}"
        )


def test_named_volumes_and_the_deployment_record() -> None:
    # Compose refuses a mount of an undeclared named volume when it renders.
    for name, data in [("kafka", "/var/lib/kafka/data"), ("postgres", "/var/lib/postgresql/data")]:
        assert any(m.kind == "volume" and m.target == data for m in mounts(name)), (
            f"{name} must keep {data} on a named volume"
        )

    record = PurePosixPath(deployment_file())
    holding = {
        name: [m for m in mounts(name) if m.kind == "volume" and record.is_relative_to(m.target)]
        for name in ("chain-listener", "deploy-contracts")
    }
    for name, found in holding.items():
        assert found, f"service {name} does not mount a named volume holding {record}"
    listener, deploy = holding["chain-listener"][0], holding["deploy-contracts"][0]
    assert listener.source == deploy.source, (
        f"chain-listener reads {record} from volume {listener.source}, "
        f"but deploy-contracts writes volume {deploy.source}"
    )
    assert listener.read_only, "chain-listener must mount the deployment volume read-only"
    assert not deploy.read_only, "deploy-contracts must be able to write the deployment volume"
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


def test_every_long_running_service_reports_health() -> None:
    for name in set(services()) - set(init_jobs()):
        assert service(name).get("healthcheck"), (
            f"service {name} runs until stopped but has no healthcheck, so nothing can wait "
            "for it with service_healthy and `docker compose ps` cannot say it is broken"
        )


@pytest.mark.parametrize("name", [n for n in app_names() if target_of(n) == "worker"])
def test_workers_serve_metrics_and_are_checked_on_their_heartbeat(name: str) -> None:
    env = environment(name)
    assert env.get("METRICS_HOST") == "0.0.0.0", (
        f"service {name}: METRICS_HOST must be 0.0.0.0 (the default is loopback, unscrapable)"
    )
    assert env.get("METRICS_PORT", "0") != "0", f"service {name}: set METRICS_PORT"
    for needed in ("/healthz", "METRICS_PORT"):
        assert needed in healthcheck_text(name), (
            f"service {name}: the healthcheck must request /healthz on $METRICS_PORT: "
            f"{healthcheck_text(name)!r}"
        )
