"""One JSON shape for every refusal of every HTTP service (the API, the oracle-logger, health),
so a client handles all of them the same way:

    {"error": "<reason>", "message": "<sentence>",
     "errors": [{"in": "query", "name": "limit", "index": null, "message": "..."}],
     "request_id": "..."}

`error` is a stable machine-readable reason; `errors` names each offending part: where it is
(`in`: query, header or body), its `name` (a parameter, or a dotted path into a posted item;
null when the whole request or item is at fault) and, for a posted array, the item's `index`.
`request_id` is the X-Request-ID of the exchange where the service assigns one. FastAPI's own
refusals (validation, unknown route, wrong method) are reshaped into it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException

# Starlette's reason for a status, as our `error` words.
_HTTP_REASONS = {404: "not_found", 405: "method_not_allowed"}


class Problem(BaseModel):
    model_config = ConfigDict(populate_by_name=True, frozen=True)

    location: str | None = Field(None, alias="in", description="query, header or body")
    name: str | None = Field(
        None, description="the parameter or field path; null when the request or item is at fault"
    )
    index: int | None = Field(None, description="the item's position in a posted array")
    message: str


class ErrorBody(BaseModel):
    error: str = Field(description="stable machine-readable reason")
    message: str
    errors: list[Problem]
    request_id: str | None


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        error: str,
        message: str,
        errors: Iterable[Problem] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message
        self.errors = list(errors)
        self.headers = dict(headers or {})


RefusalHook = Callable[[Request, ApiError], None]
"""Called for every refusal before it is answered (a service counts them in its metrics)."""


def request_id_of(request: Request) -> str | None:
    value = request.scope.get("state", {}).get("request_id")
    return value if isinstance(value, str) else None


def encoded(error: str, message: str, request_id: str | None = None) -> bytes:
    """The body of a refusal with no per-part problems, for middleware that answers on the
    raw ASGI channel (before any route, so without FastAPI's handlers)."""
    body = ErrorBody(error=error, message=message, errors=[], request_id=request_id)
    return body.model_dump_json(by_alias=True).encode()


def refusal(request: Request, exc: ApiError) -> JSONResponse:
    body = ErrorBody(
        error=exc.error,
        message=exc.message,
        errors=exc.errors,
        request_id=request_id_of(request),
    )
    return JSONResponse(
        body.model_dump(mode="json", by_alias=True), status_code=exc.status, headers=exc.headers
    )


def _validation_problems(exc: RequestValidationError) -> list[Problem]:
    found: list[Problem] = []
    for error in exc.errors():
        location = [str(part) for part in error.get("loc", ())]
        found.append(
            Problem(
                location=location[0] if location else None,
                name=".".join(location[1:]) or None,
                message=str(error.get("msg", "invalid")),
            )
        )
    return found


def _as_api_error(exc: Exception) -> ApiError:
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, RequestValidationError):
        problems = _validation_problems(exc)
        names = ", ".join(sorted({p.name or p.location or "request" for p in problems}))
        return ApiError(400, "invalid_parameter", f"invalid request parameters: {names}", problems)
    assert isinstance(exc, HTTPException)
    return ApiError(
        exc.status_code,
        _HTTP_REASONS.get(exc.status_code, "http_error"),
        str(exc.detail),
        headers=exc.headers,
    )


def install_refusals(app: FastAPI, on_refusal: RefusalHook | None = None) -> None:
    """Answers `ApiError` and FastAPI's own refusals in the one shape."""

    async def _refused(request: Request, exc: Exception) -> JSONResponse:
        error = _as_api_error(exc)
        if on_refusal is not None:
            on_refusal(request, error)
        return refusal(request, error)

    for kind in (ApiError, RequestValidationError, HTTPException):
        app.add_exception_handler(kind, _refused)


def documented(described: Mapping[int, str], *statuses: int) -> dict[int | str, dict[str, Any]]:
    """The refusals a route documents in the OpenAPI document, each with the error body."""
    return {s: {"model": ErrorBody, "description": described[s]} for s in statuses}
