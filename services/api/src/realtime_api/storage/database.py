"""The reader's pool, and the two ways a read runs.

Row-level security (migration 0002) shows `rs_api` a user's rows only when the setting
`reservesync.user` names that user, or every row when it is `'*'` (aggregates). Requests call
the `api_*` functions of migration 0003, which set it themselves, transaction-locally, inside
the one statement's implicit read-only transaction (`connection()`); the aggregates snapshot
reads several statements as every user in one explicit REPEATABLE READ transaction
(`as_user()`). Either way the setting dies with the transaction, so a pooled connection never
carries one request's user into the next.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import asyncpg
from reservesync import addresses

ALL_USERS = "*"
_UNAVAILABLE = (OSError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError)


class DatabaseUnavailable(RuntimeError):
    """The database did not answer in time or at all; `reason` is a stable word for it."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


async def _keep_state(_connection: asyncpg.Connection) -> None:
    """Nothing to reset on release: no session state is ever set, and asyncpg itself rolls
    back a transaction left open. (Its default reset costs a round trip per request.)"""


async def create_pool(dsn: str, size: int, statement_timeout_ms: int) -> asyncpg.Pool:
    pool: asyncpg.Pool = await asyncpg.create_pool(
        dsn,
        # Every connection opened up front: opening one (a backend fork and a SCRAM exchange)
        # under load would be a latency spike for the request that waits for it.
        min_size=size,
        max_size=size,
        reset=_keep_state,
        server_settings={
            "application_name": "realtime-api",
            "default_transaction_read_only": "on",
            "statement_timeout": str(statement_timeout_ms),
        },
    )
    return pool


class Reader:
    def __init__(self, pool: asyncpg.Pool, acquire_timeout_s: float) -> None:
        self.pool = pool
        self._acquire_timeout_s = acquire_timeout_s

    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[asyncpg.Connection]:
        """A pooled connection for `api_*` calls, with the database's failures turned into
        `DatabaseUnavailable`."""
        try:
            async with self.pool.acquire(timeout=self._acquire_timeout_s) as connection:
                yield connection
        except TimeoutError as exc:
            raise DatabaseUnavailable(
                "database_busy", "no database connection became free in time"
            ) from exc
        except asyncpg.QueryCanceledError as exc:
            raise DatabaseUnavailable("query_timeout", "the query took too long") from exc
        except _UNAVAILABLE as exc:
            raise DatabaseUnavailable(
                "database_unavailable", "the database is unreachable"
            ) from exc

    @contextlib.asynccontextmanager
    async def as_user(self, user: str) -> AsyncIterator[asyncpg.Connection]:
        """A connection inside a read-only REPEATABLE READ transaction (every statement sees
        the same instant) that sees `user`'s rows, or all rows for `ALL_USERS`. `user` is
        spliced into the statement (a script takes no bind parameters), so anything but a
        canonical address or `*` is refused."""
        if user != ALL_USERS and not addresses.is_canonical(user):
            raise ValueError(f"not a canonical address: {user!r}")
        async with self.connection() as connection:
            # One round trip for both: the simple-query protocol takes a script. (`SET LOCAL`
            # itself cannot name the setting: `user` is a reserved word there.)
            await connection.execute(
                "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; "
                f"SELECT set_config('reservesync.user', '{user}', true)"
            )
            try:
                yield connection
            finally:
                await connection.execute("COMMIT")

    async def record(self, query: str, *args: object) -> int | None:
        """One call of a recording function (the API's only writes) in a read-write
        transaction, the pool's connections being read-only by default: the row's id, if any."""
        async with self.connection() as connection, connection.transaction():
            await connection.execute("SET TRANSACTION READ WRITE")
            recorded: int | None = await connection.fetchval(query, *args)
            return recorded


async def wait_closed(pool: asyncpg.Pool, timeout_s: float = 5.0) -> None:
    try:
        await asyncio.wait_for(pool.close(), timeout_s)
    except TimeoutError:
        pool.terminate()
