"""One JSON shape for every refusal, so a client handles all of them the same way:

    {"error": "<reason>", "message": "<sentence>",
     "errors": [{"in": "query", "name": "limit", "message": "..."}], "request_id": "..."}

`error` is a stable machine-readable reason; `errors` names each offending parameter (empty
when the request as a whole is refused); `request_id` is the X-Request-ID of the exchange.
FastAPI's own refusals (validation, unknown route, wrong method) are reshaped into it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException

# Starlette's reason for a status, as our `error` words.
_HTTP_REASONS = {404: "not_found", 405: "method_not_allowed"}


class ParameterProblem(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    location: str | None = Field(None, alias="in", description="query or header")
    name: str | None = Field(description="the parameter; null when the request is at fault")
    message: str


class ErrorBody(BaseModel):
    error: str = Field(description="stable machine-readable reason")
    message: str
    errors: list[ParameterProblem]
    request_id: str | None


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        error: str,
        message: str,
        errors: list[dict[str, str | None]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message
        self.errors = errors or []
        self.headers = dict(headers or {})


def parameter_error(name: str, message: str, location: str = "query") -> ApiError:
    return ApiError(
        400,
        "invalid_parameter",
        f"{name}: {message}",
        [{"in": location, "name": name, "message": message}],
    )


def request_id_of(request: Request) -> str | None:
    value = request.scope.get("state", {}).get("request_id")
    return value if isinstance(value, str) else None


def error_response(
    request: Request,
    status: int,
    error: str,
    message: str,
    *,
    errors: list[dict[str, str | None]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body = {
        "error": error,
        "message": message,
        "errors": errors or [],
        "request_id": request_id_of(request),
    }
    return JSONResponse(body, status_code=status, headers=dict(headers or {}))


def _validation_errors(exc: RequestValidationError) -> list[dict[str, str | None]]:
    found: list[dict[str, str | None]] = []
    for error in exc.errors():
        location = [str(part) for part in error.get("loc", ())]
        found.append(
            {
                "in": location[0] if location else None,
                "name": ".".join(location[1:]) or None,
                "message": str(error.get("msg", "invalid")),
            }
        )
    return found


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _refused(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(
            request, exc.status, exc.error, exc.message, errors=exc.errors, headers=exc.headers
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = _validation_errors(exc)
        names = ", ".join(sorted({e["name"] or e["in"] or "request" for e in errors}))
        return error_response(
            request, 400, "invalid_parameter", f"invalid request parameters: {names}", errors=errors
        )

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        return error_response(
            request,
            exc.status_code,
            _HTTP_REASONS.get(exc.status_code, "http_error"),
            str(exc.detail),
            headers=exc.headers,
        )


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The refusals a route documents in the OpenAPI document, each with the error body."""
    described = {
        400: "invalid, unknown or repeated parameter (the body names which)",
        401: "an owner proof was given and does not prove ownership",
        404: "nothing is known about this address",
        429: "too many requests from this client; Retry-After says when to come back",
        503: "the database or the reserves snapshot is not available yet; retry after Retry-After",
    }
    return {s: {"model": ErrorBody, "description": described[s]} for s in statuses}
