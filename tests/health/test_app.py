"""The service's HTTP surface as documented (no I/O: the app is built, not started)."""

from __future__ import annotations

import pytest
from health_monitor.app import create_app
from health_monitor.config import Settings
from pydantic import ValidationError


def test_the_openapi_document_describes_the_score_and_its_parts() -> None:
    document = create_app(Settings()).openapi()
    assert {"/v1/health", "/v1/history", "/v1/alerts", "/v1/dead-letters"} <= set(document["paths"])
    health = document["paths"]["/v1/health"]["get"]["responses"]
    assert health["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/HealthReport")
    assert "503" in health
    schemas = document["components"]["schemas"]
    report = schemas["HealthReport"]["properties"]
    assert {"score", "components", "matrix", "lag", "usage", "computed_at", "alerts"} <= set(report)
    assert set(schemas["ComponentHealth"]["properties"]) >= {
        "weight",
        "percent",
        "contribution",
        "database_count",
        "source_count",
        "status",
    }
    assert schemas["SyncStatus"]["enum"] == ["Complete", "Partial", "Not synced"]
    assert schemas["LagStatus"]["enum"] == ["OK", "WARN", "REWIND", "STALL", "STOP"]


def test_settings_read_groups_as_a_list_and_refuse_inverted_thresholds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HEALTH_GROUPS", "rbtc-db-writer, replay-writer")
    assert Settings().health_groups == ["rbtc-db-writer", "replay-writer"]
    assert Settings().sink_group == "rbtc-db-writer"
    monkeypatch.setenv("HEALTH_CRITICAL_SCORE", "96")
    with pytest.raises(ValidationError, match="HEALTH_CRITICAL_SCORE"):
        Settings()
