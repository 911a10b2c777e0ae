"""The one refusal shape (`reservesync.http_errors`) on an app of its own: raised errors,
FastAPI's own refusals, the hook services count them with, and raw-ASGI bodies."""

from __future__ import annotations

import json

from fastapi import FastAPI
from fastapi.testclient import TestClient
from reservesync.http_errors import ApiError, ErrorBody, Problem, encoded, install_refusals

seen: list[tuple[str, str]] = []


def _app() -> FastAPI:
    app = FastAPI()
    install_refusals(app, on_refusal=lambda request, e: seen.append((request.url.path, e.error)))

    @app.get("/items/{index}")
    async def item(index: int, limit: int = 10) -> dict[str, int]:
        if index > limit:
            raise ApiError(
                409,
                "too_far",
                "beyond the limit",
                [Problem(location="body", index=index, name="a.b", message="no")],
                headers={"Retry-After": "3"},
            )
        return {"index": index}

    return app


client = TestClient(_app())


def test_a_raised_error_keeps_status_headers_and_problems() -> None:
    answer = client.get("/items/11")
    assert answer.status_code == 409
    assert answer.headers["retry-after"] == "3"
    assert answer.json() == {
        "error": "too_far",
        "message": "beyond the limit",
        "errors": [{"in": "body", "name": "a.b", "index": 11, "message": "no"}],
        "request_id": None,
    }
    assert ("/items/11", "too_far") in seen


def test_validation_names_each_parameter() -> None:
    answer = client.get("/items/x", params={"limit": "y"})
    assert answer.status_code == 400
    body = answer.json()
    assert body["error"] == "invalid_parameter"
    assert {(p["in"], p["name"]) for p in body["errors"]} == {("path", "index"), ("query", "limit")}
    assert "index" in body["message"]
    assert "limit" in body["message"]


def test_unknown_route_and_method_are_reshaped() -> None:
    assert client.get("/nowhere").json()["error"] == "not_found"
    wrong = client.post("/items/1")
    assert wrong.status_code == 405
    assert wrong.json()["error"] == "method_not_allowed"
    assert ("/nowhere", "not_found") in seen


def test_raw_bodies_validate_as_the_documented_model() -> None:
    body = json.loads(encoded("body_timeout", "late", "rid-1"))
    assert ErrorBody.model_validate(body).request_id == "rid-1"
    assert body == {"error": "body_timeout", "message": "late", "errors": [], "request_id": "rid-1"}
