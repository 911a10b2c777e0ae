"""The oracle-logger's refusals, in the one shape of every service (`reservesync.http_errors`):
each counted in the rejection metric by route and reason; an unreachable idempotency state is
a 503 the oracle simply retries. Problems with posted items name the item's `index` and the
dotted path of the field (`name`, null when the whole item is at fault)."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from reservesync.http_errors import ApiError, Problem, install_refusals, refusal

from oracle_logger import metrics
from oracle_logger.shared_state import StateUnavailable


def item_problem(index: int | None, field: str | None, message: str) -> Problem:
    return Problem(location="body", index=index, name=field, message=message)


def unauthenticated(reason: str, message: str) -> ApiError:
    return ApiError(401, reason, message, headers={"WWW-Authenticate": "Bearer, HMAC-SHA256"})


def _count(request: Request, error: ApiError) -> None:
    # The route's template, not the raw path: a scan of random URLs must not mint label values.
    route = getattr(request.scope.get("route"), "path", "unmatched")
    metrics.REJECTED.labels(route, error.error).inc()


def install(app: FastAPI) -> None:
    install_refusals(app, on_refusal=_count)

    @app.exception_handler(StateUnavailable)
    async def _unavailable(request: Request, exc: StateUnavailable) -> JSONResponse:
        # Nothing was decided: the same request (signed anew) can simply be retried.
        error = ApiError(
            503,
            "state_unavailable",
            "the shared idempotency state (PostgreSQL) is unavailable; retry with the same ids",
            headers={"Retry-After": "1"},
        )
        _count(request, error)
        return refusal(request, error)
