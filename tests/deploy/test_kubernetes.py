"""The Kubernetes manifests (deploy/k8s), rendered offline and checked against the Kubernetes
schemas, the CRD schemas, and the code they deploy. No cluster is needed.

Rendering uses tests/deploy/kustomize.py (the subset of kustomize deploy/k8s uses); built-in
kinds are validated with kubernetes-validate's strict schemas of one pinned Kubernetes version,
the KEDA ScaledObject and TriggerAuthentication and the ServiceMonitor with the schemas in
deploy/k8s/schemas.
"""

from __future__ import annotations

import base64
import copy
import importlib
import json
import re
from functools import cache
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import kubernetes_validate
import pytest
import yaml
from pydantic import SecretStr
from pydantic_settings import BaseSettings
from reservesync import probe_server
from reservesync.topics import ALL_TOPICS

from tests.deploy.support.kustomize import Resource, build, containers, pod_spec, resource_id
from tests.deploy.support.workspace import (
    DATABASE_ROLE,
    INIT_JOB_SETTINGS,
    K8S_ONLY_JOBS,
    ROOT,
    env_names,
    env_problems,
    init_job_settings,
    own_secret,
    service_module,
    service_names,
    settings_of,
)

K8S = ROOT / "deploy" / "k8s"
OVERLAYS = sorted(p.name for p in (K8S / "overlays").iterdir() if p.is_dir())
# The Kubernetes release the manifests are checked against (kubernetes-validate ships 1.25+).
K8S_VERSION = "1.33.0"
CRD_SCHEMAS = {
    ("keda.sh/v1alpha1", "ScaledObject"): "scaledobject.keda.sh-v1alpha1.json",
    ("keda.sh/v1alpha1", "TriggerAuthentication"): "triggerauthentication.keda.sh-v1alpha1.json",
    ("monitoring.coreos.com/v1", "ServiceMonitor"): "servicemonitor.monitoring.coreos.com-v1.json",
    ("monitoring.coreos.com/v1", "PrometheusRule"): "prometheusrule.monitoring.coreos.com-v1.json",
}
IMAGE_REPOSITORY = "reservesync"
UID = int(re.findall(r"--uid (\d+)", (ROOT / "services" / "Dockerfile").read_text())[0])


@cache
def rendered(overlay: str) -> tuple[Resource, ...]:
    return tuple(build(K8S / "overlays" / overlay))


EXAMPLE_SECRETS = K8S / "overlays" / "local" / "secrets.example.yaml"


@cache
def example_secrets() -> dict[str, Resource]:
    """The Secrets an operator creates by hand (no overlay holds them), with example values."""
    documents = yaml.safe_load_all(EXAMPLE_SECRETS.read_text())
    return {d["metadata"]["name"]: d for d in documents if d is not None}


def operators_secret(example: Resource) -> Resource:
    """An example Secret as an operator creates it: the same keys, values of their own."""
    secret = copy.deepcopy(example)
    secret["stringData"] = {k: own_secret(v) for k, v in data_of(example).items()}
    secret.pop("data", None)
    return secret


def of_kind(overlay: str, kind: str) -> dict[str, Resource]:
    found = {r["metadata"]["name"]: r for r in rendered(overlay) if r["kind"] == kind}
    if kind == "Secret":
        assert not found, (
            f"overlay {overlay} holds Secrets {sorted(found)}: they are the operator's"
        )
        return {name: operators_secret(s) for name, s in example_secrets().items()}
    return found


def workloads(overlay: str) -> list[Resource]:
    return [r for r in rendered(overlay) if r["kind"] in {"Deployment", "Job"}]


def settings_for(workload: Resource) -> tuple[str, type[BaseSettings]]:
    """The service (or init job) a workload runs, and the Settings its code reads."""
    name = workload["metadata"]["labels"]["app.kubernetes.io/name"]
    if workload["kind"] == "Job":
        assert name in INIT_JOB_SETTINGS or name in K8S_ONLY_JOBS, (
            f"Job {name}: neither INIT_JOB_SETTINGS nor K8S_ONLY_JOBS knows it"
        )
        return name, init_job_settings(name)
    return name, settings_of(name)


def repository(image: str) -> str:
    """`registry.example.com/reservesync/api:0.1.0` -> `reservesync/api` (registry and tag off)."""
    name = image.split("@", maxsplit=1)[0]
    if ":" in name.rsplit("/", 1)[-1]:
        name = name.rsplit(":", 1)[0]
    parts = name.split("/")
    if len(parts) > 2 and ("." in parts[0] or ":" in parts[0] or parts[0] == "localhost"):
        parts = parts[1:]
    return "/".join(parts)


def only_container(workload: Resource) -> dict[str, Any]:
    found = containers(workload)
    assert len(found) == 1, f"{resource_id(workload)}: expected one container, got {len(found)}"
    return found[0]


def env_of(overlay: str, container: dict[str, Any]) -> dict[str, str]:
    """The container's environment with every ConfigMap/Secret reference resolved."""
    assert "envFrom" not in container, (
        f"container {container['name']}: name each variable (env), no envFrom: a whole "
        "ConfigMap or Secret hands the container settings and secrets it does not need"
    )
    env: dict[str, str] = {}
    for item in container.get("env", []):
        if "value" in item:
            env[item["name"]] = str(item["value"])
            continue
        source = item.get("valueFrom", {})
        ref = source.get("configMapKeyRef") or source.get("secretKeyRef")
        assert ref, f"{container['name']}: {item['name']} comes from {source}, not modelled"
        kind = "ConfigMap" if "configMapKeyRef" in source else "Secret"
        values = data_of(of_kind(overlay, kind).get(ref["name"]))
        if ref["key"] in values:
            env[item["name"]] = values[ref["key"]]
        else:
            assert ref.get("optional"), (
                f"{container['name']}: {item['name']} reads {kind} {ref['name']} key "
                f"{ref['key']}, which overlay {overlay} does not define"
            )
    return env


def data_of(resource: Resource | None) -> dict[str, str]:
    """A ConfigMap's data, or a Secret's (base64 `data` decoded, `stringData` as it is)."""
    if resource is None:
        return {}
    values = dict(resource.get("data") or {})
    if resource["kind"] == "Secret":
        values = {k: base64.b64decode(v).decode() for k, v in values.items()}
        values.update(resource.get("stringData") or {})
    return values


def secret_settings() -> set[str]:
    """Variables some service reads as a secret (a SecretStr field): they come from Secrets."""
    found = set()
    for name in service_names():
        for field, info in settings_of(name).model_fields.items():
            if "SecretStr" in str(info.annotation) or info.annotation is SecretStr:
                found.add(field.upper())
    return found


def port_number(container: dict[str, Any], port: int | str) -> int:
    if isinstance(port, int):
        return port
    numbers = [p["containerPort"] for p in container.get("ports", []) if p.get("name") == port]
    assert numbers, f"container {container['name']} has no port named {port}"
    return int(numbers[0])


def quantity(value: str | int) -> float:
    text = str(value)
    units = {"m": 1e-3, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "k": 1e3, "M": 1e6, "G": 1e9}
    for unit, factor in sorted(units.items(), key=lambda u: -len(u[0])):
        if text.endswith(unit):
            return float(text[: -len(unit)]) * factor
    return float(text)


def validate(resource: Resource) -> None:
    """Raises when the resource breaks its schema."""
    crd = CRD_SCHEMAS.get((resource["apiVersion"], resource["kind"]))
    if crd is None:
        kubernetes_validate.validate(resource, K8S_VERSION, strict=True)
    else:
        schema = json.loads((K8S / "schemas" / crd).read_text())
        jsonschema.Draft202012Validator(schema).validate(resource)


# ------------------------------------------------------------------------------------ the tests


def test_base_renders_and_every_overlay_builds_on_it() -> None:
    base = {resource_id(r) for r in build(K8S / "base")}
    assert OVERLAYS, f"no overlay under {K8S / 'overlays'}"
    for overlay in OVERLAYS:
        names = {(kind, name) for kind, _, name in map(resource_id, rendered(overlay))}
        missing = {(kind, name) for kind, _, name in base} - names
        assert not missing, f"overlay {overlay} drops base resources {sorted(missing)}"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_manifest_is_valid_against_its_schema(overlay: str) -> None:
    problems = []
    for resource in rendered(overlay):
        try:
            validate(resource)
        except kubernetes_validate.SchemaNotFoundError as exc:
            problems.append(f"{resource_id(resource)}: {exc.message}; add its CRD schema")
        except jsonschema.ValidationError as exc:  # kubernetes_validate's error subclasses it
            where = ".".join(str(p) for p in exc.path)
            problems.append(f"{resource_id(resource)} at {where}: {exc.message}")
    assert not problems, "\n".join(problems)


def test_the_schemas_reject_what_kubernetes_would() -> None:
    """The validation above can fail: each schema refuses a typical mistake."""
    resources = {r["kind"]: r for r in rendered(OVERLAYS[0])}
    mistakes: list[tuple[str, str, Any]] = [
        ("Deployment", "spec.template.spec.containers.0.livenessprobe", {}),  # misspelt field
        ("Service", "spec.ports.0.port", "9100"),  # a string where the API wants an integer
        ("ScaledObject", "spec.triggers.0.metadata.lagThreshold", 10000),  # CRD: strings only
        ("ScaledObject", "spec.maxReplicas", 12),  # the HPA's name, not KEDA's
        ("TriggerAuthentication", "spec.env.0.secret", "x"),  # not an env source field
        ("ServiceMonitor", "spec.endpoints.0.interval", "30 seconds"),
    ]
    for kind, path, value in mistakes:
        broken = copy.deepcopy(resources[kind])
        *parents, leaf = path.split(".")
        node: Any = broken
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        node[leaf] = value
        with pytest.raises(jsonschema.ValidationError):
            validate(broken)


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("name", service_names())
def test_each_service_has_a_deployment_and_a_metrics_port(overlay: str, name: str) -> None:
    deployment = of_kind(overlay, "Deployment").get(name)
    assert deployment, f"overlay {overlay}: no Deployment {name} for services/{name}"
    container = only_container(deployment)
    assert container["name"] == name
    assert repository(container["image"]) == f"{IMAGE_REPOSITORY}/{name}", (
        f"Deployment {name} runs {container['image']}"
    )
    labels = deployment["spec"]["template"]["metadata"]["labels"]

    service = of_kind(overlay, "Service").get(name)
    assert service, f"overlay {overlay}: no Service {name} (Prometheus scrapes through it)"
    selector = service["spec"]["selector"]
    assert selector.items() <= labels.items(), f"Service {name} does not select its pods"
    ports = {p["name"]: p for p in service["spec"]["ports"]}
    assert "metrics" in ports, f"Service {name} needs a port named metrics (ServiceMonitor)"

    env = env_of(overlay, container)
    http = "HTTP_PORT" in env_names(settings_of(name))
    serves_on = env.get("HTTP_PORT" if http else "METRICS_PORT", "0")
    assert serves_on != "0", (
        f"Deployment {name}: set {'HTTP_PORT' if http else 'METRICS_PORT'} (0 turns metrics off)"
    )
    host = env.get("HTTP_HOST" if http else "METRICS_HOST")
    assert host == "0.0.0.0", f"Deployment {name}: bind to 0.0.0.0, not {host} (the default)"
    target = port_number(container, ports["metrics"]["targetPort"])
    assert target == int(serves_on), (
        f"Service {name} scrapes container port {target}, but {name} serves /metrics on {serves_on}"
    )


def app_routes(overlay: str, name: str) -> set[str]:
    """The GET paths the service's FastAPI app serves, built with the overlay's settings."""
    env = env_of(overlay, deployment_container(overlay, name))
    settings = load_settings(settings_of(name), env)
    app = importlib.import_module(f"{service_module(name)}.app").create_app(settings)
    return {r.path for r in app.routes if "GET" in (getattr(r, "methods", None) or ())}


def deployment_container(overlay: str, name: str) -> dict[str, Any]:
    return only_container(of_kind(overlay, "Deployment")[name])


def load_settings(cls: type[BaseSettings], env: dict[str, str]) -> BaseSettings:
    with pytest.MonkeyPatch.context() as patch:
        for key in env_names(cls):
            patch.delenv(key, raising=False)
        for key, value in env.items():
            patch.setenv(key, value)
        return cls()


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("name", service_names())
def test_probes_ask_real_routes_on_real_ports(overlay: str, name: str) -> None:
    container = deployment_container(overlay, name)
    env = env_of(overlay, container)
    probes = {kind: container.get(kind) for kind in ("livenessProbe", "readinessProbe")}
    missing = [kind for kind, probe in probes.items() if not probe]
    assert not missing, f"Deployment {name} lacks {missing}"
    if "HTTP_PORT" in env_names(settings_of(name)):
        expected = {"livenessProbe": "/healthz", "readinessProbe": "/readyz"}
        port = int(env.get("HTTP_PORT", "0"))
        routes = app_routes(overlay, name)
    else:
        # A worker's probe server (reservesync.worker) answers on its metrics port.
        source = ROOT / "services" / name / "src" / service_module(name) / "__main__.py"
        assert "worker.run(" in source.read_text(), f"{name} does not run through worker.run"
        expected = {"livenessProbe": "/healthz", "readinessProbe": "/readyz"}
        port = int(env.get("METRICS_PORT", "0"))
        routes = set(probe_server.ROUTES)
    for kind, path in expected.items():
        check = probes[kind]["httpGet"]  # type: ignore[index]
        assert check["path"] == path, f"{name} {kind} asks {check['path']}, expected {path}"
        assert check["path"] in routes, f"{name} serves no GET {check['path']} ({routes})"
        assert port_number(container, check["port"]) == port, (
            f"{name} {kind} asks port {check['port']}, but the service listens on {port}"
        )


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_environment_matches_each_settings_class(overlay: str) -> None:
    secret = secret_settings()
    for workload in workloads(overlay):
        name, cls = settings_for(workload)
        container = only_container(workload)
        env = env_of(overlay, container)
        declared = {item["name"] for item in container.get("env", [])}
        problems = env_problems(name, cls, declared)
        assert not problems, "\n".join(problems)
        for item in container.get("env", []):
            if item["name"] in secret:
                assert "secretKeyRef" in item.get("valueFrom", {}), (
                    f"{name}: {item['name']} is a secret; take it from a Secret (secretKeyRef)"
                )
        try:
            load_settings(cls, env)
        except Exception as exc:
            pytest.fail(f"overlay {overlay}: {cls.__module__}.{cls.__name__} rejects {name}: {exc}")


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_database_client_connects_as_its_own_role(overlay: str) -> None:
    for workload in workloads(overlay):
        name, _ = settings_for(workload)
        env = env_of(overlay, only_container(workload))
        if name not in DATABASE_ROLE:
            assert "DATABASE_URL" not in env, f"{name} gets a DATABASE_URL it has no role for"
            continue
        user = urlsplit(env["DATABASE_URL"]).username
        assert user == DATABASE_ROLE[name], f"{name} connects as {user}, not {DATABASE_ROLE[name]}"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_workloads_are_locked_down_and_sized(overlay: str) -> None:
    for workload in workloads(overlay):
        where = resource_id(workload)
        spec = pod_spec(workload) or {}
        pod = spec.get("securityContext", {})
        assert pod.get("runAsNonRoot") is True, f"{where}: runAsNonRoot"
        assert pod.get("runAsUser") == UID, f"{where}: runAsUser must be the image's uid {UID}"
        assert pod.get("seccompProfile", {}).get("type") == "RuntimeDefault", where
        assert spec.get("automountServiceAccountToken") is False, (
            f"{where}: no service does anything with the Kubernetes API; do not mount a token"
        )
        writable = {v["name"] for v in spec.get("volumes", []) if "emptyDir" in v}
        for container in containers(workload):
            context = container.get("securityContext", {})
            assert context.get("readOnlyRootFilesystem") is True, f"{where}: read-only root"
            assert context.get("allowPrivilegeEscalation") is False, where
            assert "ALL" in context.get("capabilities", {}).get("drop", []), where
            mounts = {m["mountPath"]: m["name"] for m in container.get("volumeMounts", [])}
            assert mounts.get("/tmp") in writable, f"{where}: mount an emptyDir on /tmp"
            resources = container.get("resources", {})
            for resource in ("cpu", "memory"):
                request = resources.get("requests", {}).get(resource)
                limit = resources.get("limits", {}).get(resource)
                assert request, f"{where}: set a {resource} request"
                assert limit, f"{where}: set a {resource} limit"
                assert quantity(request) <= quantity(limit), f"{where}: {resource} request > limit"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_jobs_run_what_the_compose_init_jobs_run(overlay: str) -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    jobs = {settings_for(j)[0]: j for j in workloads(overlay) if j["kind"] == "Job"}
    assert {"migrate", "create-topics", "db-roles"} <= set(jobs), f"{overlay}: jobs {set(jobs)}"
    for name, job in jobs.items():
        if name in K8S_ONLY_JOBS:
            continue
        container = only_container(job)
        assert container["command"] == compose[name]["command"], (
            f"Job {name} runs {container['command']}; compose's {name} runs "
            f"{compose[name]['command']}"
        )
        assert repository(container["image"]) == f"{IMAGE_REPOSITORY}/init"
        assert job["spec"]["template"]["spec"]["restartPolicy"] in {"OnFailure", "Never"}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_db_writer_scales_on_lag_up_to_its_partition_count(overlay: str) -> None:
    from db_writer.config import SOURCE_TOPICS as TOPICS

    scaled = [r for r in rendered(overlay) if r["kind"] == "ScaledObject"]
    assert len(scaled) == 1, f"overlay {overlay}: expected one ScaledObject, got {len(scaled)}"
    spec = scaled[0]["spec"]
    target = spec["scaleTargetRef"]
    assert (target.get("kind"), target["name"]) == ("Deployment", "db-writer")
    deployment = of_kind(overlay, "Deployment")["db-writer"]
    assert "replicas" not in deployment["spec"], (
        "the db-writer Deployment sets replicas: every `kubectl apply` would undo KEDA's choice"
    )
    partitions = {t.name: t.partitions for t in ALL_TOPICS}
    assert spec["maxReplicaCount"] == max(partitions[t] for t in TOPICS), (
        f"maxReplicaCount {spec['maxReplicaCount']} must be the partition count of the widest "
        f"topic the writers consume ({ {t: partitions[t] for t in TOPICS} }): more writers "
        "would sit idle, fewer would leave partitions to share"
    )
    assert 1 <= spec.get("minReplicaCount", 0) <= spec["maxReplicaCount"]
    container = only_container(deployment)
    env = env_of(overlay, container)
    assert target.get("envSourceContainerName", container["name"]) == container["name"]
    triggers = spec["triggers"]
    assert {t["type"] for t in triggers} == {"kafka"}
    assert sorted(t["metadata"].get("topic") for t in triggers) == sorted(TOPICS), (
        f"one trigger per topic db_writer.config.SOURCE_TOPICS holds: {sorted(TOPICS)}"
    )
    writer = settings_of("db-writer")
    for trigger in triggers:
        metadata = trigger["metadata"]
        group_var = metadata.get("consumerGroupFromEnv")
        group = env.get(group_var) if group_var else metadata.get("consumerGroup")
        expected_group = env.get("WRITER_GROUP_ID", writer.model_fields["writer_group_id"].default)
        assert group == expected_group, f"the scaler watches group {group}, not the writers'"
        servers_var = metadata.get("bootstrapServersFromEnv")
        servers = env.get(servers_var) if servers_var else metadata.get("bootstrapServers")
        assert servers == env["KAFKA_BOOTSTRAP_SERVERS"], "the scaler must watch the same Kafka"
        assert metadata.get("allowIdleConsumers", "false") == "false"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_service_monitor_scrapes_every_service(overlay: str) -> None:
    monitors = list(of_kind(overlay, "ServiceMonitor").values())
    assert monitors, f"overlay {overlay} has no ServiceMonitor"
    for name in service_names():
        service = of_kind(overlay, "Service")[name]
        labels = service["metadata"].get("labels", {})
        ports = {p["name"] for p in service["spec"]["ports"]}
        scraped = [
            endpoint
            for monitor in monitors
            if monitor["spec"]["selector"].get("matchLabels", {}).items() <= labels.items()
            for endpoint in monitor["spec"].get("endpoints", [])
            if endpoint.get("port") in ports and endpoint.get("path", "/metrics") == "/metrics"
        ]
        assert scraped, f"no ServiceMonitor endpoint scrapes /metrics on Service {name}"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_images_are_pinned_and_singletons_stay_single(overlay: str) -> None:
    for workload in workloads(overlay):
        for container in containers(workload):
            image = container["image"]
            tagged = "@" in image or ":" in image.rsplit("/", 1)[-1]
            assert tagged, f"{resource_id(workload)}: give {image} a tag or digest (images:)"
            assert not image.endswith(":latest"), f"{resource_id(workload)}: {image} floats"
    deployments = of_kind(overlay, "Deployment")
    listener = deployments["chain-listener"]["spec"]
    assert listener.get("replicas") == 1, (
        "chain-listener: one per chain; its transactional id fences a second"
    )
    assert listener["strategy"]["type"] == "Recreate", (
        "chain-listener: Recreate, so an old and a new listener never overlap"
    )
    bitcoin = deployments["bitcoin-listener"]["spec"]
    assert bitcoin.get("replicas") == 1, (
        "bitcoin-listener: one per network; its transactional id fences a second"
    )
    assert bitcoin["strategy"]["type"] == "Recreate", (
        "bitcoin-listener: Recreate, so an old and a new listener never overlap"
    )
    assert deployments["health"]["spec"].get("replicas") == 1, "two health replicas alert twice"


def test_local_example_secrets_are_marked_and_match_the_compose_example() -> None:
    env_example = dict(
        line.split("=", 1)
        for line in (ROOT / ".env.example").read_text().splitlines()
        if line and not line.startswith("#")
    )
    for name, secret in example_secrets().items():
        marked = secret["metadata"].get("annotations", {}).get("reservesync.io/example-values")
        assert marked == "true", f"Secret {name}: mark example values (reservesync.io/...)"
        for key, value in data_of(secret).items():
            if key in {"DATABASE_URL", "POSTGRES_ADMIN_URL"}:
                url = urlsplit(value)
                assert url.password == env_example[f"{str(url.username).upper()}_PASSWORD"], (
                    f"Secret {name}: use .env.example's password for {url.username}"
                )
            else:
                assert value == env_example[key], f"Secret {name}: {key} differs from .env.example"
