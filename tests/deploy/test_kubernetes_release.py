"""deploy/k8s as an operator ships it: rendered by the real kustomize (the same resources as
tests/deploy/kustomize.py, which the other Kubernetes tests check), Jobs named per release, no
Secrets in any overlay, a production overlay from a registry, the chain in a ConfigMap of its
own, one health pod at a time, and alerts on series the services really expose."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.support.kustomize import Resource, build, containers, resource_id
from tests.deploy.support.workspace import ROOT, env_problems, init_job_settings, metric_labels

K8S = ROOT / "deploy" / "k8s"
OVERLAYS = sorted(p.name for p in (K8S / "overlays").iterdir() if p.is_dir())
KUSTOMIZE_MODULE = "sigs.k8s.io/kustomize/kustomize/v5@v5.5.0"
TOOLS = ROOT / ".stack" / "tools"


@cache
def kustomize() -> Path:
    """kustomize on PATH, else the one built into .stack/tools from its Go module."""
    found = shutil.which("kustomize") or (TOOLS / "kustomize")
    if Path(found).is_file():
        return Path(found)
    go = shutil.which("go")
    if go is None:
        pytest.fail(f"kustomize is not on PATH and Go is missing to build {KUSTOMIZE_MODULE}")
    TOOLS.mkdir(parents=True, exist_ok=True)
    built = subprocess.run(
        [go, "install", KUSTOMIZE_MODULE],
        env={**os.environ, "GOBIN": str(TOOLS)},
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    assert built.returncode == 0, f"go install {KUSTOMIZE_MODULE} failed:\n{built.stderr}"
    return TOOLS / "kustomize"


@cache
def real_render(overlay: str) -> tuple[Resource, ...]:
    result = subprocess.run(
        [str(kustomize()), "build", str(K8S / "overlays" / overlay)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"kustomize build {overlay}:\n{result.stderr}"
    return tuple(d for d in yaml.safe_load_all(result.stdout) if d is not None)


def of_kind(overlay: str, kind: str) -> dict[str, Resource]:
    return {r["metadata"]["name"]: r for r in real_render(overlay) if r["kind"] == kind}


def overlay_file(overlay: str, *parts: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((K8S / "overlays" / overlay / Path(*parts)).read_text())
    return loaded


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_real_kustomize_renders_what_the_tests_check(overlay: str) -> None:
    real = {resource_id(r): r for r in real_render(overlay)}
    modelled = {resource_id(r): r for r in build(K8S / "overlays" / overlay)}
    assert set(real) == set(modelled)
    for key, resource in real.items():
        assert resource == modelled[key], f"{key}: kustomize and tests/deploy/kustomize.py differ"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_job_names_carry_the_release(overlay: str) -> None:
    suffix = overlay_file(overlay, "jobs", "kustomization.yaml")["nameSuffix"]
    tags = {image["newTag"] for image in overlay_file(overlay, "kustomization.yaml")["images"]}
    assert len(tags) == 1, f"overlay {overlay}: one release tag for every image, got {tags}"
    assert suffix == "-" + tags.pop().replace(".", "-"), (
        f"overlay {overlay}: the Jobs' nameSuffix must follow the image tag, so a new release "
        "creates new Jobs instead of patching the old ones' immutable pod template"
    )
    jobs = of_kind(overlay, "Job")
    assert {"reservesync-db-roles", "reservesync-migrate", "reservesync-create-topics"} == {
        name.removesuffix(suffix) for name in jobs
    }
    for job in jobs.values():
        assert job["spec"]["ttlSecondsAfterFinished"] > 0, "finished Jobs of old releases go"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_no_overlay_ships_secrets(overlay: str) -> None:
    resources = overlay_file(overlay, "kustomization.yaml")["resources"]
    assert not any("secret" in entry for entry in resources), resources
    assert of_kind(overlay, "Secret") == {}
    assert "change-me" not in yaml.safe_dump_all(real_render(overlay))


def test_production_pulls_release_images_from_a_registry() -> None:
    workloads = [
        *of_kind("production", "Deployment").values(),
        *of_kind("production", "Job").values(),
    ]
    for workload in workloads:
        for container in containers(workload):
            image = container["image"]
            registry, _, rest = image.partition("/")
            assert "." in registry, f"{resource_id(workload)}: {image} names no registry"
            assert re.fullmatch(r"reservesync/[a-z-]+:\d+\.\d+\.\d+", rest), image
            assert container["imagePullPolicy"] == "IfNotPresent", resource_id(workload)
            requests = container["resources"]["requests"]
            assert requests.get("cpu"), f"{resource_id(workload)} requests no cpu"
            assert requests.get("memory"), f"{resource_id(workload)} requests no memory"
    config = of_kind("production", "ConfigMap")["reservesync-config"]["data"]
    assert config["KAFKA_REPLICATION_FACTOR"] == "3"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_chain_comes_from_its_own_config_map(overlay: str) -> None:
    chain = of_kind(overlay, "ConfigMap")["reservesync-chain"]["data"]
    assert {"CHAIN_RPC_URL", "CHAIN_ID", "CHAIN_CONTRACTS", "CHAIN_START_BLOCK"} <= set(chain)
    for name in ("chain-listener", "health"):
        (container,) = containers(of_kind(overlay, "Deployment")[name])
        sources = {
            item["name"]: item["valueFrom"]["configMapKeyRef"]["name"]
            for item in container["env"]
            if "configMapKeyRef" in item.get("valueFrom", {})
        }
        for key in ("CHAIN_RPC_URL", "CHAIN_ID"):
            assert sources[key] == "reservesync-chain", f"{name}: {key} from {sources[key]}"
    config = of_kind(overlay, "ConfigMap")["reservesync-config"]["data"]
    assert not {"CHAIN_RPC_URL", "CHAIN_CONTRACTS"} & set(config), "the chain is set in one place"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_one_health_pod_at_a_time(overlay: str) -> None:
    health = of_kind(overlay, "Deployment")["health"]["spec"]
    assert health["replicas"] == 1
    assert health["strategy"] == {"type": "Recreate"}, "a rollout would run two and alert twice"


ALERTS = {
    "ReserveSyncServiceDown",
    "ReserveSyncListenerBehindHead",
    "ReserveSyncListenerStuck",
    "ReserveSyncWriterLag",
    "ReserveSyncDeadLettersGrowing",
    "ReserveSyncDeadLettersOnTopic",
    "ReserveSyncHealthScoreLow",
    "ReserveSyncReservesShort",
    "ReserveSyncOracleFailToZero",
    "ReserveSyncOracleDiverges",
    "ReserveSyncMassBurn",
    "ReserveSyncUnderBackedOnBitcoin",
}
PROMQL_WORDS = {"max", "sum", "by", "and", "or", "changes", "increase", "rate", "group"}


def test_the_alerts_watch_series_that_exist() -> None:
    (rule,) = of_kind("production", "PrometheusRule").values()
    rules = [r for group in rule["spec"]["groups"] for r in group["rules"]]
    assert {r["alert"] for r in rules} == ALERTS
    exposed = metric_labels()
    for alert in rules:
        assert alert["labels"]["severity"] in {"warning", "critical"}
        assert alert["annotations"]["summary"]
        expr = re.sub(r"\{[^}]*\}|\[[^\]]*\]|\"[^\"]*\"", "", alert["expr"])
        names = set(re.findall(r"[a-z_][a-z0-9_]*(?=\s*(?:\)|>|<|=|\+|$|\s|and|\())", expr))
        series = names - PROMQL_WORDS
        assert series, f"{alert['alert']}: no series found in {alert['expr']}"
        # `up` is Prometheus's own series of every scrape target.
        missing = sorted(series - set(exposed) - {"up"})
        assert not missing, f"{alert['alert']} watches {missing}, which no service exposes"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_reconciliation_is_a_cron_job(overlay: str) -> None:
    cron = of_kind(overlay, "CronJob")["reservesync-reconcile"]
    (container,) = containers(cron)
    assert container["command"] == ["python", "-m", "oracle_logger.reconcile"]
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    env = {item["name"]: item for item in container["env"]}
    problems = env_problems("oracle-reconcile", init_job_settings("oracle-reconcile"), set(env))
    assert not problems, "\n".join(problems)
    database = env["DATABASE_URL"]["valueFrom"]["secretKeyRef"]
    assert database["name"] == "reservesync-db-health", "read-only"
    assert "secretKeyRef" in env["ORACLE_STATE_KEY"]["valueFrom"]
    # It publishes to the oracle topics, which only the oracle-logger's principal may write.
    assert env["KAFKA_SASL_USERNAME"].get("value") == "oracle-logger"
    assert env["KAFKA_SASL_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
        "name": "reservesync-kafka-oracle-logger",
        "key": "ORACLE_LOGGER_KAFKA_SASL_PASSWORD",
    }
