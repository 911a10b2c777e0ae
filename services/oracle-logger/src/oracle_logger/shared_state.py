"""The state every replica shares, in PostgreSQL (the `rs_oracle_logger` role, migration
0010): accepted operation ids with their content digest, and used request signatures.

Claiming is one short transaction per request: INSERT ... ON CONFLICT DO NOTHING records the
new ids, then the ids already there are read back and compared. A concurrent claim of the same
id on another replica waits for ours to commit or roll back (the primary key), so two replicas
never both record different content for one id. Ids are inserted in sorted order, so two
overlapping claims lock their rows in the same order and cannot deadlock.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from datetime import UTC, datetime

import asyncpg

from oracle_logger.intake import Claim, IdConflict

log = logging.getLogger(__name__)

_CLAIM = """
INSERT INTO oracle_intake (operation_id, content_digest, oracle_id)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[])
ON CONFLICT (operation_id) DO NOTHING
RETURNING operation_id"""
_KNOWN = """
SELECT operation_id, content_digest, published_at IS NOT NULL AS published
FROM oracle_intake WHERE operation_id = ANY($1::text[])"""
_PUBLISHED = """
UPDATE oracle_intake SET published_at = now()
WHERE operation_id = ANY($1::text[]) AND published_at IS NULL"""
_USE_SIGNATURE = """
INSERT INTO oracle_used_signatures (signature, expires_at) VALUES ($1, $2)
ON CONFLICT (signature) DO NOTHING RETURNING 1"""
_PRUNE_SIGNATURES = "DELETE FROM oracle_used_signatures WHERE expires_at < now()"
_PRUNE_INTAKE = "DELETE FROM oracle_intake WHERE first_seen < now() - make_interval(secs => $1)"

# What a lost connection, a restart or a timeout of the database raises.
_UNAVAILABLE = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError)


class StateUnavailable(Exception):
    """The shared state could not be read or written; nothing was decided."""


# A request waits this long at most for the database (connecting or answering): a replica
# whose database is gone answers 503 soon instead of holding the oracle's retry.
_DATABASE_TIMEOUT_S = 10.0


async def create_pool(dsn: str, size: int) -> asyncpg.Pool:
    pool: asyncpg.Pool = await asyncpg.create_pool(
        dsn,
        min_size=1,
        max_size=size,
        timeout=_DATABASE_TIMEOUT_S,
        command_timeout=_DATABASE_TIMEOUT_S,
        server_settings={"application_name": "oracle-logger"},
    )
    return pool


async def close_pool(pool: asyncpg.Pool, timeout_s: float = 5.0) -> None:
    try:
        await asyncio.wait_for(pool.close(), timeout_s)
    except TimeoutError:
        pool.terminate()


class PostgresState:
    def __init__(self, pool: asyncpg.Pool, *, idempotency_ttl_s: float) -> None:
        self._pool = pool
        self._idempotency_ttl_s = idempotency_ttl_s

    async def claim(self, digests: Mapping[str, str], oracles: Mapping[str, str]) -> Claim:
        ids = sorted(digests)
        try:
            async with (
                self._pool.acquire(timeout=_DATABASE_TIMEOUT_S) as conn,
                conn.transaction(),
            ):
                inserted = {
                    r["operation_id"]
                    for r in await conn.fetch(
                        _CLAIM, ids, [digests[i] for i in ids], [oracles[i] for i in ids]
                    )
                }
                earlier = [i for i in ids if i not in inserted]
                rows = await conn.fetch(_KNOWN, earlier) if earlier else []
                known = {r["operation_id"]: (r["content_digest"], r["published"]) for r in rows}
                if len(known) < len(earlier):
                    # Pruned between the two statements (an id a year old): nothing decided.
                    raise StateUnavailable("an operation id was pruned while being claimed")
                conflicts = [i for i in earlier if known[i][0] != digests[i]]
                if conflicts:
                    raise IdConflict(sorted(conflicts))  # rolls the new rows back
        except _UNAVAILABLE as exc:
            raise StateUnavailable(f"could not record the operation ids: {exc!r}") from exc
        done = {i for i in earlier if known[i][1]}
        return Claim(
            todo=[i for i in digests if i not in done], done=[i for i in digests if i in done]
        )

    async def published(self, digests: Mapping[str, str]) -> None:
        try:
            await self._pool.execute(_PUBLISHED, list(digests))
        except _UNAVAILABLE:
            # Kafka has them: the answer is still 202. A later identical retry finds them
            # unmarked and publishes again, which the db-writer dedupes.
            log.warning("could not mark operations as published", exc_info=True)

    async def first_use(self, signature: str, expires_at: float) -> bool:
        """Records `signature`; False when it was used before (a replay)."""
        try:
            row = await self._pool.fetchval(
                _USE_SIGNATURE, signature, datetime.fromtimestamp(expires_at, UTC)
            )
        except _UNAVAILABLE as exc:
            raise StateUnavailable(f"could not record the signature: {exc!r}") from exc
        return row is not None

    async def prune(self) -> tuple[int, int]:
        """Deletes expired signatures and operation ids older than the TTL: (signatures, ids)."""
        signatures = await self._pool.execute(_PRUNE_SIGNATURES)
        ids = await self._pool.execute(_PRUNE_INTAKE, self._idempotency_ttl_s)
        return int(signatures.split()[-1]), int(ids.split()[-1])

    async def prune_forever(self, interval_s: float) -> None:
        while True:
            try:
                signatures, ids = await self.prune()
                if signatures or ids:
                    log.info("pruned", extra={"signatures": signatures, "operation_ids": ids})
            except _UNAVAILABLE:
                log.warning("pruning failed; trying again next interval", exc_info=True)
            await asyncio.sleep(interval_s)

    async def check(self) -> None:
        async with asyncio.timeout(_DATABASE_TIMEOUT_S / 2):
            await self._pool.fetchval("SELECT 1")
