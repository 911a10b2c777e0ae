"""Retention (SPEC section 5): balance snapshots 90 days, oracle operations 365 days, the rest
permanent.

A scheduled job inside the writer (every `writer_retention_interval_s`), deleting in small
batches so it never holds long locks. The sink counters are left alone on purpose: they count
rows written from the sources, which the health score compares with what the sources
published; a reorg takes rows back because those events never happened, retention does not.
A replay applies the same cut-off, so a rebuilt database equals the live one.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import timedelta

import asyncpg

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Rule:
    table: str
    time_column: str
    keep: timedelta


RULES = (
    Rule("balance_snapshots", "taken_at", timedelta(days=90)),
    Rule("oracle_operations_log", "occurred_at", timedelta(days=365)),
)
BATCH = 5000


async def apply(pool: asyncpg.Pool) -> dict[str, int]:
    """Delete what is past its retention; returns rows deleted per table."""
    deleted: dict[str, int] = {}
    for rule in RULES:
        total = 0
        while True:
            # Table and column names come from RULES above, never from input.
            result = await pool.execute(
                f"DELETE FROM {rule.table} WHERE id IN (SELECT id FROM {rule.table} "  # noqa: S608
                f"WHERE {rule.time_column} < now() - $1::interval LIMIT {BATCH})",
                rule.keep,
            )
            count = int(result.split()[-1])
            total += count
            if count < BATCH:
                break
        deleted[rule.table] = total
        if total:
            log.info("retention applied", extra={"table": rule.table, "deleted": total})
    return deleted


async def run_periodically(pool: asyncpg.Pool, interval_s: float, stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            await apply(pool)
        except (OSError, asyncpg.PostgresError) as exc:
            log.warning("retention deferred", extra={"error": str(exc)})
        try:
            await asyncio.wait_for(stop.wait(), timeout=interval_s)
        except TimeoutError:
            continue
