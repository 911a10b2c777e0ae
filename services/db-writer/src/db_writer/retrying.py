"""Waiting out a PostgreSQL that cannot work right now, as opposed to data it refuses."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

import asyncpg
from reservesync.heartbeat import heartbeat

from db_writer import metrics

log = logging.getLogger(__name__)

# Errors that say "Postgres is away or cannot work now", whatever the data: the write is tried
# again as it is. Every other error of a write is the data's (a value out of range, text
# Postgres refuses, a constraint, a value asyncpg cannot encode): its record is dead-lettered.
UNAVAILABLE = (
    OSError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    # A connection Postgres dropped mid-transaction can fail its reset on release this way
    # (seen when Postgres restarts); the next attempt takes a fresh connection.
    asyncpg.InternalClientError,
    # Missing rights or tables, no disk, a shutdown, a deadlock, a read-only standby: fixed by
    # time or an operator, never by dropping the record.
    asyncpg.SyntaxOrAccessError,
    asyncpg.InsufficientResourcesError,
    asyncpg.OperatorInterventionError,
    asyncpg.TransactionRollbackError,
    asyncpg.ObjectNotInPrerequisiteStateError,
    asyncpg.InvalidTransactionStateError,
    asyncpg.InvalidAuthorizationSpecificationError,
    asyncpg.PostgresSystemError,
    asyncpg.InternalServerError,
)

T = TypeVar("T")


async def retrying(action: Callable[[], Awaitable[T]], also: tuple[type[Exception], ...] = ()) -> T:
    """Retry while Postgres (or what `also` names) is unavailable (restarts, failover, an
    operator's fix); any other error is the data's and propagates."""
    delay = 0.2
    while True:
        try:
            result = await action()
            heartbeat.reached("database")
            return result
        except (*UNAVAILABLE, *also) as exc:
            metrics.DB_RETRIES.inc()
            heartbeat.waiting_for("database")
            log.warning(
                "database unavailable, retrying",
                extra={"error": f"{type(exc).__name__}: {exc}", "in_s": delay},
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)
