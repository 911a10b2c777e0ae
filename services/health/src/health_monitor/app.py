"""The health HTTP application: the evaluation loop and the source reader run for as long as
the app's lifespan; the routes serve the latest snapshot."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline
from reservesync import probes
from reservesync.http import Lifespan, add_body_deadline, add_probes
from reservesync.http_errors import install_refusals

from health_monitor import routes
from health_monitor.canary import Canary
from health_monitor.chain import CodeChecker
from health_monitor.config import Settings
from health_monitor.database import DatabaseReader
from health_monitor.domain.alert_feed import AlertFeed
from health_monitor.domain.dead_letters import DeadLetterBook
from health_monitor.monitor import Monitor, Parts
from health_monitor.notify import Notifier
from health_monitor.offsets import OffsetSampler
from health_monitor.sources import SourceReader
from health_monitor.world_cycle import WorldReaders


def create_app(settings: Settings) -> FastAPI:
    app = FastAPIOffline(
        title="ReserveSync health",
        version="0.2.0",
        description="The synchronization score of SPEC section 6, consumer lag judged in the "
        "manner of Burrow, alerts, and a dashboard at /dashboard.",
        lifespan=_lifespan_of(settings),
    )
    add_probes(
        app,
        {
            "kafka": lambda: probes.kafka_reachable(settings),
            "database": lambda: probes.database_reachable(settings),
            "sources": lambda: _sources_read(app.state.monitor),
        },
    )
    install_refusals(app)
    app.include_router(routes.router)
    add_body_deadline(app, settings.http_body_timeout_s)
    return app


def _lifespan_of(settings: Settings) -> Lifespan:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        stop = asyncio.Event()
        async with contextlib.AsyncExitStack() as stack:
            parts, canary = await _open_parts(settings, stack)
            monitor = Monitor(settings, parts)
            app.state.monitor = monitor
            tasks = [
                asyncio.create_task(parts.reader.run(stop), name="sources"),
                asyncio.create_task(monitor.run(stop), name="monitor"),
                asyncio.create_task(parts.notifier.deliver(stop), name="webhook"),
                asyncio.create_task(canary.run(stop), name="canary"),
            ]
            try:
                yield
            finally:
                stop.set()
                await asyncio.gather(*tasks, return_exceptions=True)

    return lifespan


async def _open_parts(settings: Settings, stack: contextlib.AsyncExitStack) -> tuple[Parts, Canary]:
    """The monitor's parts, each opened on `stack` (closed in reverse when the app stops),
    and the canary that proves the path from Kafka to the database."""
    letters = DeadLetterBook(settings.health_dlq_window_s)
    feed = AlertFeed()
    notifier = Notifier(settings)
    await notifier.start()
    stack.push_async_callback(notifier.stop)
    database = await DatabaseReader.connect(settings.asyncpg_dsn, settings.database_pool_size)
    stack.push_async_callback(database.close)
    sampler = OffsetSampler(settings, {settings.sink_group: tuple(settings.health_writer_topics)})
    await sampler.start()
    stack.push_async_callback(sampler.stop)
    canary = Canary(settings)
    parts = Parts(
        letters=letters,
        feed=feed,
        reader=SourceReader(settings, letters, feed, on_new_alert=notifier.forward),
        database=database,
        code=CodeChecker(settings.chain_rpc_url, settings.health_code_cache_s),
        sampler=sampler,
        notifier=notifier,
        world=WorldReaders(settings, database.pool, canary),
    )
    return parts, canary


async def _sources_read(monitor: Monitor) -> None:
    if monitor.parts.reader.failure is not None:
        raise RuntimeError(f"reading failed: {monitor.parts.reader.failure}")
    if not monitor.parts.reader.caught_up.is_set():
        raise RuntimeError("still reading the registry, dead letters and alerts")
