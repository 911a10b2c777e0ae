"""One JSON shape for every refusal, so a client can handle all of them the same way:

    {"error": "<reason>", "message": "<sentence>", "errors": [{"index", "field", "message"}]}

`error` is a stable machine-readable reason (also the `reason` label of the rejection metric);
`errors` lists per-item problems (`index` into the posted array, 0 for a single object;
`field` a dotted path, or null when the whole item is at fault).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from oracle_logger import metrics
from oracle_logger.shared_state import StateUnavailable


class ItemError(BaseModel):
    index: int | None
    field: str | None
    message: str


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        reason: str,
        message: str,
        errors: list[ItemError] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.message = message
        self.errors = errors or []
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        return {
            "error": self.reason,
            "message": self.message,
            "errors": [e.model_dump() for e in self.errors],
        }


def unauthenticated(reason: str, message: str) -> ApiError:
    return ApiError(401, reason, message, headers={"WWW-Authenticate": "Bearer, HMAC-SHA256"})


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _refuse(request: Request, exc: ApiError) -> JSONResponse:
        metrics.REJECTED.labels(request.url.path, exc.reason).inc()
        return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)

    @app.exception_handler(StateUnavailable)
    async def _unavailable(request: Request, exc: StateUnavailable) -> JSONResponse:
        # Nothing was decided: the same request (signed anew) can simply be retried.
        refusal = ApiError(
            503,
            "state_unavailable",
            "the shared idempotency state (PostgreSQL) is unavailable; retry with the same ids",
            headers={"Retry-After": "1"},
        )
        return await _refuse(request, refusal)
