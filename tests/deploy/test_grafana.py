"""deploy/grafana/reservesync.json: every series a panel queries is one the services export, with
the labels it groups by, and every metric of the services on it has a panel.

The services' metrics are read from their code (tests/deploy/workspace.py imports each
service's metrics module into prometheus_client's registry), so a renamed metric or label fails
here instead of leaving an empty panel.
"""

from __future__ import annotations

import importlib
import json
import re
from functools import cache
from typing import Any

import pytest
from prometheus_client.metrics import MetricWrapperBase

from tests.deploy.support.workspace import ROOT, metric_labels, service_module

DASHBOARD = ROOT / "deploy" / "grafana" / "reservesync.json"
# Series Prometheus adds to every target, and the labels the scrape attaches.
PROMETHEUS_SERIES = {"up"}
TARGET_LABELS = {"job", "instance", "namespace", "pod", "service", "container", "endpoint"}
# Services whose every metric has a panel, with the prefix their metrics module gives every
# metric name (not always the module's name: health_monitor's are health_*, realtime_api's api_*).
METRIC_PREFIXES = {
    "chain-listener": "chain_listener_",
    "bitcoin-listener": "bitcoin_listener_",
    "db-writer": "db_writer_",
    "oracle-logger": "oracle_logger_",
    "health": "health_",
    "api": "api_",
}

_STRING = re.compile(r'"(?:\\.|[^"\\])*"')
_MATCHERS = re.compile(r"\{([^}]*)\}")
_RANGE = re.compile(r"\[[^\]]*\]")
_GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")
_NAME = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
KEYWORDS = {"and", "or", "unless", "bool", "offset", "inf", "nan"}


@cache
def dashboard() -> dict[str, Any]:
    assert DASHBOARD.is_file(), f"{DASHBOARD} is missing"
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


def queries() -> list[tuple[str, str]]:
    """(panel title, PromQL) of every target of every panel."""
    found = []
    for panel in dashboard()["panels"]:
        for target in panel.get("targets", []):
            found.append((panel["title"], target["expr"]))
    return found


def parse(expr: str) -> tuple[set[str], set[str]]:
    """The series names and the label names a PromQL expression uses."""
    text = _STRING.sub('""', expr)
    labels = {
        name
        for matchers in _MATCHERS.findall(text)
        for name in re.findall(r"([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)", matchers)
    }
    labels |= {
        label.strip()
        for _, grouped in _GROUPING.findall(text)
        for label in grouped.split(",")
        if label.strip()
    }
    text = _GROUPING.sub(" ", _RANGE.sub("", _MATCHERS.sub("", text)))
    names = set()
    for match in _NAME.finditer(text):
        before = text[match.start() - 1] if match.start() else " "
        after = text[match.end() :].lstrip()
        if before.isdigit() or before in ".$" or after.startswith("(") or match[0] in KEYWORDS:
            continue  # a number's exponent or unit, a variable, a function, a keyword
        names.add(match[0])
    return names, labels


def test_the_parser_finds_names_and_labels() -> None:
    names, labels = parse(
        'histogram_quantile(0.99, sum by (le, topic) (rate(a_seconds_bucket{job=~"$job"}'
        "[$__rate_interval]))) / on (job) b_total offset 5m + 1e3"
    )
    assert names == {"a_seconds_bucket", "b_total"}
    assert labels == {"le", "topic", "job"}


def test_the_dashboard_is_well_formed() -> None:
    board = dashboard()
    ids = [panel["id"] for panel in board["panels"]]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    for panel in board["panels"]:
        if panel["type"] == "row":
            continue
        assert panel.get("targets"), f"panel {panel['title']} queries nothing"
        assert panel["datasource"]["uid"] == "${datasource}", (
            f"panel {panel['title']}: use the $datasource variable, not a fixed data source"
        )
        assert panel.get("description"), f"panel {panel['title']}: say what it shows"


@pytest.mark.parametrize(("title", "expr"), queries())
def test_every_query_reads_series_the_services_export(title: str, expr: str) -> None:
    exported = metric_labels()
    names, labels = parse(expr)
    assert names, f"panel {title}: no series found in {expr!r}"
    unknown = sorted(names - set(exported) - PROMETHEUS_SERIES)
    assert not unknown, (
        f"panel {title} queries {unknown}, which no service exports (services/*/src/*/"
        "metrics.py, or prometheus_client's process collectors)"
    )
    available = set().union(*(exported.get(n, frozenset()) for n in names)) | TARGET_LABELS
    missing = sorted(labels - available)
    assert not missing, f"panel {title} uses labels {missing} that {sorted(names)} do not carry"


def declared_metrics(service: str) -> set[str]:
    """The names (without `_total`) of the metrics a service's metrics module defines."""
    module = importlib.import_module(f"{service_module(service)}.metrics")
    return {
        family.name
        for value in vars(module).values()
        if isinstance(value, MetricWrapperBase)
        for family in value.describe()
    }


@pytest.mark.parametrize(("service", "prefix"), METRIC_PREFIXES.items())
def test_the_prefix_is_the_services_own(service: str, prefix: str) -> None:
    """Every metric of the service carries its prefix, and no other covered service's metric
    does, so the check below sees exactly that service's metrics."""
    own = declared_metrics(service)
    assert own, f"{service_module(service)}.metrics defines no metric"
    astray = sorted(n for n in own if not n.startswith(prefix))
    assert not astray, f"{service}'s metrics {astray} do not start with {prefix!r}"
    others = set().union(*(declared_metrics(s) for s in METRIC_PREFIXES if s != service))
    shared = sorted(n for n in others if n.startswith(prefix))
    assert not shared, f"{shared} of other services also start with {service}'s {prefix!r}"


@pytest.mark.parametrize(("service", "prefix"), METRIC_PREFIXES.items())
def test_every_metric_of_the_service_has_a_panel(service: str, prefix: str) -> None:
    declared = {
        name.removesuffix("_total").removesuffix("_bucket")
        for name in metric_labels()
        if name.startswith(prefix) and not name.endswith(("_created", "_sum", "_count"))
    }
    assert declared, f"{service} exports no {prefix}* metric"
    queried = set().union(*(parse(expr)[0] for _, expr in queries()))
    shown = {n.removesuffix("_total").removesuffix("_bucket") for n in queried}
    missing = sorted(declared - shown)
    assert not missing, f"{service}'s metrics {missing} have no panel in {DASHBOARD.name}"
