"""The oracle-logger HTTP application: the write routes, probes and metrics, and (when
configured) the pull of the oracle's encrypted `/users`.

The Kafka broker (FastStream's, whose producer the publishers of `outlets` send through) and
the pool of the shared state (PostgreSQL) live as long as the app's lifespan; readiness reports
both, so a replica that could only answer 503s is taken out of rotation. A background task
prunes expired signatures and operation ids.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import AsyncIterator

import httpx
from fastapi import FastAPI
from fastapi_offline import FastAPIOffline
from reservesync import probes
from reservesync.http import Lifespan, add_body_deadline, add_probes, run_alongside

from oracle_logger import errors, routes
from oracle_logger.auth import Authenticator
from oracle_logger.config import Settings
from oracle_logger.deps import Runtime
from oracle_logger.outlets import declare
from oracle_logger.publishing import Publisher
from oracle_logger.reconcile_loop import reconcile_in_service
from oracle_logger.shared_state import PostgresState, close_pool, create_pool
from oracle_logger.state_pull import StatePuller

log = logging.getLogger(__name__)


def create_app(settings: Settings) -> FastAPI:
    runtime = Runtime(
        settings=settings,
        authenticator=Authenticator(
            settings.oracle_tokens, settings.oracle_hmac_keys, settings.oracle_signature_max_skew_s
        ),
    )
    app = FastAPIOffline(
        title="ReserveSync oracle-logger", version="0.1.0", lifespan=_lifespan_of(runtime)
    )
    app.state.runtime = runtime
    errors.install(app)
    app.include_router(routes.router)
    add_probes(
        app,
        {
            "kafka": lambda: probes.kafka_reachable(settings),
            "producer": functools.partial(_producer_running, runtime),
            "database": functools.partial(_database_answers, runtime),
        },
    )
    add_body_deadline(app, settings.http_body_timeout_s)
    return app


def _lifespan_of(runtime: Runtime) -> Lifespan:
    settings = runtime.settings

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if not runtime.authenticator.configured:
            log.warning("no ORACLE_TOKENS or ORACLE_HMAC_KEYS configured: every write gets 401")
        async with contextlib.AsyncExitStack() as stack:
            state = await _open_state(runtime, stack)
            publisher = await _start_publisher(runtime, state, stack)
            # Set together or not at all (the settings refuse half a pull configuration).
            if settings.oracle_users_url is not None:
                _start_pull(runtime, settings.oracle_users_url, publisher, stack)
            if settings.oracle_reconcile_interval_s:
                run_alongside(stack, reconcile_in_service(settings), "reconcile")
            yield

    return lifespan


async def _open_state(runtime: Runtime, stack: contextlib.AsyncExitStack) -> PostgresState:
    settings = runtime.settings
    pool = await create_pool(settings.asyncpg_dsn, settings.database_pool_size)
    stack.push_async_callback(close_pool, pool)
    state = PostgresState(pool, idempotency_ttl_s=settings.oracle_idempotency_ttl_s)
    runtime.state = runtime.authenticator.used = state
    stack.callback(_forget_state, runtime)
    run_alongside(stack, state.prune_forever(settings.oracle_prune_interval_s), "oracle-prune")
    return state


async def _start_publisher(
    runtime: Runtime, state: PostgresState, stack: contextlib.AsyncExitStack
) -> Publisher:
    outlets = declare(runtime.settings)
    await outlets.broker.start()
    # Stopping the broker stops its producer, which first delivers what it holds.
    stack.push_async_callback(outlets.broker.stop)
    runtime.publisher = Publisher(
        outlets, intake=state, timeout_s=runtime.settings.oracle_publish_timeout_s
    )
    stack.callback(setattr, runtime, "publisher", None)
    return runtime.publisher


def _start_pull(
    runtime: Runtime, url: str, publisher: Publisher, stack: contextlib.AsyncExitStack
) -> None:
    settings = runtime.settings
    http = httpx.AsyncClient(timeout=settings.oracle_pull_timeout_s)
    stack.push_async_callback(http.aclose)
    runtime.puller = StatePuller(
        url,
        settings.state_key,
        publisher=publisher,
        http=http,
        interval_s=settings.oracle_pull_interval_s,
    )
    run_alongside(stack, runtime.puller.run(), "oracle-state-pull")
    log.info("pulling oracle state", extra={"url": url})


async def _producer_running(runtime: Runtime) -> None:
    if runtime.publisher is None:
        raise RuntimeError("the Kafka producer is not running")


async def _database_answers(runtime: Runtime) -> None:
    if runtime.state is None:
        raise RuntimeError("the shared state is not open")
    await runtime.state.check()


def _forget_state(runtime: Runtime) -> None:
    runtime.state = runtime.authenticator.used = None
