"""What every response shares: the error shape, request ids, refusal of unknown or repeated
parameters, rate limiting, metrics, and the OpenAPI document."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.support.api_process import OPERATIONS, ROUTES
from tests.support.world import ALICE, address

alice = address(ALICE)
ERROR_KEYS = {"error", "message", "errors", "request_id"}


@pytest.mark.parametrize(
    ("path", "params", "status", "error", "name"),
    [
        ("/balances", {}, 400, "invalid_parameter", "address"),
        ("/balances", {"address": "0x1234"}, 400, "invalid_parameter", "address"),
        ("/balances", {"address": "0x" + "g" * 40}, 400, "invalid_parameter", "address"),
        ("/balances", {"address": alice, "adress": alice}, 400, "invalid_parameter", "adress"),
        ("/transactions", {"address": alice, "limit": "0"}, 400, "invalid_parameter", "limit"),
        ("/transactions", {"address": alice, "limit": "201"}, 400, "invalid_parameter", "limit"),
        ("/transactions", {"address": alice, "limit": "ten"}, 400, "invalid_parameter", "limit"),
        ("/transactions", {"address": alice, "offset": "-1"}, 400, "invalid_parameter", "offset"),
        ("/transactions", {"address": alice, "offset": "0.0"}, 400, "invalid_parameter", "offset"),
        ("/transactions", {"address": alice, "limit": "1e1"}, 400, "invalid_parameter", "limit"),
        (
            "/transactions",
            {"address": alice, "offset": "100001"},
            400,
            "invalid_parameter",
            "offset",
        ),
        ("/proof-of-reserves", {"address": alice}, 400, "invalid_parameter", "address"),
        ("/nowhere", {}, 404, "not_found", None),
    ],
)
def test_refusals_share_one_shape(
    client: httpx.Client,
    *,
    path: str,
    params: dict[str, str],
    status: int,
    error: str,
    name: str | None,
) -> None:
    response = client.get(path, params=params)
    assert response.status_code == status
    body = response.json()
    assert set(body) == ERROR_KEYS
    assert body["error"] == error
    assert body["message"]
    assert body["request_id"] == response.headers["x-request-id"]
    if name is not None:
        assert [e["name"] for e in body["errors"]] == [name]


def test_a_wrong_checksum_names_the_problem(client: httpx.Client) -> None:
    checksummed = str(ALICE.address)
    letter = next(i for i, c in enumerate(checksummed) if i > 1 and c.isalpha())
    typo = checksummed[:letter] + checksummed[letter].swapcase() + checksummed[letter + 1 :]
    response = client.get("/balances", params={"address": typo})
    assert response.status_code == 400
    assert "checksum" in response.json()["message"]


def test_repeated_parameters_are_refused(client: httpx.Client) -> None:
    response = client.get(f"/transactions?address={alice}&limit=2&limit=3")
    assert response.status_code == 400
    assert response.json()["errors"][0] == {
        "in": "query",
        "name": "limit",
        "index": None,
        "message": "given more than once",
    }


def test_wrong_method_is_405_in_the_error_shape(client: httpx.Client) -> None:
    response = client.delete("/balances", params={"address": alice})
    assert response.status_code == 405
    assert response.json()["error"] == "method_not_allowed"
    assert "GET" in response.headers["allow"]


def test_request_ids_are_echoed_or_made(client: httpx.Client) -> None:
    given = client.get("/balances", params={"address": alice}, headers={"X-Request-ID": "abc-1"})
    assert given.headers["x-request-id"] == "abc-1"
    made = client.get("/balances", params={"address": alice})
    assert re.fullmatch(r"[0-9a-f]{32}", made.headers["x-request-id"])
    # An id that cannot go into a log line as it is gets replaced.
    hostile = client.get("/proof-of-reserves", headers={"X-Request-ID": "a b\tc" * 100})
    assert re.fullmatch(r"[0-9a-f]{32}", hostile.headers["x-request-id"])


def test_a_client_over_its_rate_gets_429_with_retry_after(limited_api: str) -> None:
    with httpx.Client(base_url=f"{limited_api}/api/realtime", timeout=10) as http:
        statuses = [http.get("/proof-of-reserves").status_code for _ in range(3)]
        refused = http.get("/proof-of-reserves")
        probe = httpx.get(f"{limited_api}/healthz")
    assert statuses == [200, 200, 200]
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.json()["error"] == "rate_limited"
    assert refused.json()["request_id"] == refused.headers["x-request-id"]
    assert probe.status_code == 200  # probes are never limited


def test_metrics_have_a_latency_histogram_per_route(api: str, client: httpx.Client) -> None:
    client.get("/sync-status", params={"address": alice})
    client.get("/made-up-path-" + "x" * 50)
    text = httpx.get(f"{api}/metrics").text
    assert re.search(
        r'api_request_duration_seconds_bucket\{le="0.01",method="GET",'
        r'route="/api/realtime/sync-status",status="200"\} [1-9]',
        text,
    ) or re.search(
        r'api_request_duration_seconds_bucket\{.*route="/api/realtime/sync-status".*status="200"',
        text,
    )
    assert 'route="unmatched"' in text
    assert "made-up-path" not in text
    # The world's leaves: four users, erin (a wrBTC holder only) and the wrap vault.
    assert re.search(r"api_snapshot_users 6\.0", text)


def test_the_openapi_document_describes_every_endpoint(api: str) -> None:
    document = httpx.get(f"{api}/openapi.json").json()
    paths = document["paths"]
    assert {f"{method.upper()} {path}" for path in paths for method in paths[path]} >= set(
        OPERATIONS
    )
    for path in [*ROUTES, "owner-challenge"]:
        operations = paths[f"/api/realtime/{path}"]
        for operation in operations.values():
            assert "200" in operation["responses"]
            assert "422" not in operation["responses"]
            assert "429" in operation["responses"]
    assert "sha256-merkle-sum-v3" in str(paths["/api/realtime/proof-of-reserves"])
    assert "leaf hash" in paths["/api/realtime/proof-of-reserves"]["get"]["description"]
