"""What every HTTP service shares, checked on the real processes: uvicorn's own lines are JSON
like the rest of the log, `/docs` needs no CDN (its assets come from the service itself), and
the dashboard answers HEAD. Plus the log levels `reservesync.logging` sets."""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Iterator

import httpx
import pytest
from devstack import services
from devstack.paths import log_dir
from reservesync import logging as structured_logging

from tests.support.stack import Endpoints

HTTP_SERVICES = ["oracle-logger", "health", "api"]
URL_KEYS = {"oracle-logger": "ORACLE_LOGGER_URL", "health": "HEALTH_URL", "api": "API_URL"}


@pytest.fixture(scope="module")
def running(endpoints: Endpoints) -> Iterator[tuple[str, dict[str, str]]]:
    prefix = f"http{secrets.token_hex(2)}"
    try:
        urls = services.start(HTTP_SERVICES, stack=endpoints.env(), prefix=prefix)
        yield prefix, {name: urls[URL_KEYS[name]] for name in HTTP_SERVICES}
    finally:
        services.stop(HTTP_SERVICES, prefix=prefix)


@pytest.mark.parametrize("name", HTTP_SERVICES)
def test_docs_are_served_from_the_service(running: tuple[str, dict[str, str]], name: str) -> None:
    base = running[1][name]
    page = httpx.get(f"{base}/docs", timeout=10)
    assert page.status_code == 200
    assert "cdn." not in page.text, "the docs page still loads from a CDN"
    assert "/static-offline-docs/swagger-ui-bundle.js" in page.text
    script = httpx.get(f"{base}/static-offline-docs/swagger-ui-bundle.js", timeout=10)
    assert script.status_code == 200
    assert len(script.content) > 100_000


@pytest.mark.parametrize("name", HTTP_SERVICES)
def test_uvicorn_lines_are_json(running: tuple[str, dict[str, str]], name: str) -> None:
    prefix = running[0]
    lines = (log_dir() / f"{prefix}-{name}.log").read_text().splitlines()
    uvicorn = [json.loads(line) for line in lines if '"logger": "uvicorn' in line]
    assert any("Uvicorn running on" in entry["msg"] for entry in uvicorn), lines[:10]
    for line in lines:
        assert line.startswith("{"), f"a plain-text line in the {name} log: {line!r}"


def test_the_dashboard_answers_head(running: tuple[str, dict[str, str]]) -> None:
    answer = httpx.head(f"{running[1]['health']}/dashboard", timeout=10)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")


def test_request_lines_of_httpx_only_at_debug() -> None:
    try:
        structured_logging.configure("test", "INFO")
        assert not logging.getLogger("httpx").isEnabledFor(logging.INFO)
        logging.getLogger("httpx").setLevel(logging.NOTSET)
        structured_logging.configure("test", "DEBUG")
        assert logging.getLogger("httpx").isEnabledFor(logging.INFO)
    finally:
        logging.getLogger("httpx").setLevel(logging.NOTSET)
        logging.getLogger().handlers.clear()


ERROR_KEYS = {"error", "message", "errors", "request_id"}


@pytest.mark.parametrize("name", HTTP_SERVICES)
def test_refusals_share_one_shape(running: tuple[str, dict[str, str]], name: str) -> None:
    base = running[1][name]
    unknown = httpx.get(f"{base}/no-such-route", timeout=10)
    assert unknown.status_code == 404
    assert set(unknown.json()) == ERROR_KEYS
    assert unknown.json()["error"] == "not_found"
    wrong_method = httpx.delete(f"{base}/metrics", timeout=10)
    assert wrong_method.status_code == 405
    assert wrong_method.json()["error"] == "method_not_allowed"
