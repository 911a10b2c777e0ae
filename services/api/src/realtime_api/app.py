"""The realtime API application: the read routes under /api/realtime, probes and metrics.

The database pool, the aggregates snapshot keeper and the process that hashes the reserves
tree live as long as the app's lifespan; readiness reports the pool and the first snapshot, so
a replica is taken into rotation only once every endpoint can answer.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import multiprocessing
import os
from collections.abc import AsyncIterator
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline
from reservesync.crypto import FieldCipher
from reservesync.http import Lifespan, add_body_deadline, add_probes, run_alongside
from reservesync.http_errors import ApiError, install_refusals, refusal

from realtime_api import routes
from realtime_api.config import Settings
from realtime_api.deps import Runtime
from realtime_api.domain.owner import OwnerProofs, derive_key
from realtime_api.middleware import RequestContext
from realtime_api.ratelimit import RateLimiter
from realtime_api.storage.database import DatabaseUnavailable, Reader, create_pool, wait_closed
from realtime_api.storage.snapshot import SnapshotKeeper

log = logging.getLogger(__name__)
HASHER_NICENESS = 10

DESCRIPTION = """Read endpoints over the synchronised ReserveSync database.

Every error is a 4xx (or 503 while a dependency is down) with the body
`{"error", "message", "errors": [{"in", "name", "index", "message"}], "request_id"}`. Unknown or
repeated query parameters are refused. Requests carry `X-Request-ID` (given or generated).
Clients are rate limited per address (429 with `Retry-After`)."""


def create_app(settings: Settings) -> FastAPI:
    secret = bytes.fromhex(settings.field_encryption_key.get_secret_value())
    runtime = Runtime(
        settings=settings,
        cipher=FieldCipher.from_settings(settings),
        owner_proofs=OwnerProofs(derive_key(secret), settings.api_owner_challenge_ttl_s),
    )
    app = FastAPIOffline(
        title="ReserveSync realtime API",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=_lifespan_of(runtime),
    )
    app.state.runtime = runtime
    install_refusals(app)
    app.exception_handler(DatabaseUnavailable)(_unavailable)
    routes.include(app)
    add_probes(
        app,
        {
            "database": functools.partial(_database_answers, runtime),
            "snapshot": functools.partial(_snapshot_built, runtime),
        },
    )
    app.openapi = _openapi_without_422(app)  # type: ignore[method-assign]
    # Inside the request context, so a 408 is logged and counted with its request id.
    add_body_deadline(app, settings.http_body_timeout_s)
    app.add_middleware(
        RequestContext,
        limiter=RateLimiter(
            settings.api_rate_limit_per_s,
            settings.api_rate_limit_burst,
            settings.api_rate_limit_clients,
        ),
        limited_prefix=routes.PREFIX,
        known_paths=[*app.openapi()["paths"], "/healthz", "/readyz", "/metrics"],
        trusted_proxies=settings.api_trusted_proxies,
        access_log=settings.api_access_log,
    )
    return app


def _lifespan_of(runtime: Runtime) -> Lifespan:
    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            reader = await _open_reader(runtime, stack)
            _start_keeper(runtime, reader, stack)
            yield

    return lifespan


async def _open_reader(runtime: Runtime, stack: contextlib.AsyncExitStack) -> Reader:
    settings = runtime.settings
    pool = await create_pool(
        settings.asyncpg_dsn, settings.database_pool_size, settings.api_statement_timeout_ms
    )
    stack.push_async_callback(wait_closed, pool)
    runtime.reader = Reader(pool, settings.api_pool_timeout_s)
    stack.callback(setattr, runtime, "reader", None)
    return runtime.reader


def _start_keeper(runtime: Runtime, reader: Reader, stack: contextlib.AsyncExitStack) -> None:
    settings = runtime.settings
    # spawn, not fork: a forked child would inherit the event loop and the sockets.
    # Niced: on a busy machine, hashing waits for the requests, not the other way round.
    hasher = ProcessPoolExecutor(
        1,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=os.nice,
        initargs=(HASHER_NICENESS,),
    )
    stack.callback(hasher.shutdown, wait=True, cancel_futures=True)
    runtime.keeper = SnapshotKeeper(
        reader,
        hasher,
        check_interval_s=settings.api_snapshot_check_interval_s,
        aggregates_min_interval_s=settings.api_aggregates_min_interval_s,
        reserves_min_interval_s=settings.api_reserves_min_interval_s,
        pending_mint_window_s=settings.api_pending_mint_window_s,
        max_age_s=settings.api_snapshot_max_age_s,
    )
    stack.callback(setattr, runtime, "keeper", None)
    run_alongside(stack, runtime.keeper.run(), "aggregates-snapshot")


async def _unavailable(request: Request, exc: DatabaseUnavailable) -> JSONResponse:
    log.warning("database unavailable", extra={"reason": exc.reason, "error": str(exc)})
    return refusal(request, ApiError(503, exc.reason, str(exc), headers={"Retry-After": "1"}))


async def _database_answers(runtime: Runtime) -> None:
    if runtime.reader is None:
        raise RuntimeError("the pool is not open")
    await runtime.reader.pool.fetchval("SELECT 1")


async def _snapshot_built(runtime: Runtime) -> None:
    if runtime.keeper is None or not runtime.keeper.ready:
        raise RuntimeError("the first snapshots are not built yet")


def _openapi_without_422(app: FastAPI) -> Any:
    """FastAPI documents a 422 for every route with parameters; this API answers 400 in its
    own error shape instead (see `errors`), so the document says that and nothing else."""
    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = original()
            for path in document.get("paths", {}).values():
                for operation in path.values():
                    operation.get("responses", {}).pop("422", None)
            schemas = document.get("components", {}).get("schemas", {})
            for name in ("HTTPValidationError", "ValidationError"):
                schemas.pop(name, None)
            app.openapi_schema = document
        return app.openapi_schema

    return openapi
