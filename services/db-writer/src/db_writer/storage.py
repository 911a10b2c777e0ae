"""Postgres side of the writer: one transaction per batch holding the rows, the counters and
the consumer offsets, fenced so that no record is ever applied twice."""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import NamedTuple

import asyncpg
from reservesync.messages import DeadLetter

from db_writer import duplicates, metrics, participants
from db_writer.duplicates import Claim, ConflictLetter
from db_writer.known_users import KnownUsers
from db_writer.mapping import Row, Rows
from db_writer.merged import MERGED, USERS
from db_writer.offset_fence import (
    Offsets,
    Unwritten,
    already_applied,
    fetch_offsets,
    is_new_record,
    lock_offsets,
    replayed,
    store_offsets,
)
from db_writer.tables import CHAIN_TABLES, SPECS, TableSpec

LetterSender = Callable[[Sequence[DeadLetter]], Awaitable[None]]
Tally = Counter[tuple[str, str, int]]
"""(table, source topic, source partition) -> rows added (or, negative, removed)."""


class Written(NamedTuple):
    rows: int
    """Rows newly inserted."""
    conflicts: int
    """Records dead-lettered as conflicting duplicates."""


class SinkStore:
    def __init__(self, pool: asyncpg.Pool, consumer_group: str) -> None:
        self.pool = pool
        self.group = consumer_group
        self.known_users = KnownUsers()

    @classmethod
    async def connect(cls, dsn: str, consumer_group: str, size: int) -> SinkStore:
        pool = await asyncpg.create_pool(dsn, min_size=1, max_size=size)
        return cls(pool, consumer_group)

    async def close(self) -> None:
        await self.pool.close()

    async def stored_offsets(self, partitions: Iterable[tuple[str, int]]) -> Offsets:
        async with self.pool.acquire() as connection:
            return await fetch_offsets(connection, self.group, list(partitions), lock=False)

    async def write(self, rows: Rows, offsets: Offsets, letters: Sequence[DeadLetter] = ()) -> int:
        """`write_batch` for rows that claim no idempotency key; returns the rows inserted."""
        return (await self.write_batch(rows, offsets, letters)).rows

    async def write_batch(
        self,
        rows: Rows,
        offsets: Offsets,
        letters: Sequence[DeadLetter] = (),
        claims: Sequence[Claim] = (),
        conflict: ConflictLetter | None = None,
        *,
        firsts: Offsets | None = None,
    ) -> Written:
        """Insert the rows of records not yet applied, bump counters by what was new, queue the
        dead letters, store the offsets. A record whose claim (see `duplicates`) was made
        before writes nothing; if its content differs, `conflict` makes its dead letter. All of
        it commits or none of it does. `firsts`, each partition's first offset in the batch,
        lets a batch that starts where the database stands skip the per-row fence check."""
        clock = metrics.StepClock()
        async with self.pool.acquire() as connection, connection.transaction():
            applied = await lock_offsets(connection, self.group, offsets)
            clock.done("lock")
            verdict = await duplicates.settle_claims(
                connection, [c for c in claims if is_new_record(c.coordinate, applied)]
            )
            fresh_letters = [
                d for d in letters if d.offset >= applied.get((d.source_topic, d.partition), 0)
            ]
            if verdict.conflicts:
                if conflict is None:
                    raise TypeError("claims need a way to dead-letter their conflicts")
                fresh_letters += [conflict(claim, why) for claim, why in verdict.conflicts]
            await _queue_letters(connection, fresh_letters)
            clock.done("claims")
            unwritten = Unwritten(applied, verdict.skipped, replayed(applied, firsts))
            tally: Tally = Counter()
            for spec in SPECS:
                table_rows = spec.deduplicated(unwritten(rows.tables.get(spec.name, [])))
                if not table_rows:
                    continue
                tally.update(await _insert(connection, spec, table_rows))
                clock.done(spec.name)
            written_users: list[Row] = []
            for merged in MERGED:
                evidence = unwritten(rows.tables.get(merged.evidence.name, []))
                if merged is USERS:
                    evidence = written_users = self.known_users.needed(evidence)
                changed = await merged.add(connection, evidence)
                tally.update(await merged.recompute(connection, changed))
            if rows.yield_users:
                await participants.recompute(connection, rows.yield_users)
            clock.done("derived")
            inserted = sum(tally.values())
            tally.update(
                (duplicates.COUNTER, c.record.topic, c.record.partition)
                for c, _ in verdict.conflicts
            )
            await _count(connection, tally)
            await store_offsets(connection, self.group, offsets)
            clock.done("bookkeeping")
        clock.done("commit")
        self.known_users.committed(written_users)
        return Written(inserted, len(verdict.conflicts))

    async def remove_orphaned(
        self, topic: str, partition: int, block_hashes: Sequence[str], offsets: Offsets
    ) -> int:
        """Apply a reorg notice for one partition: its rows from orphaned blocks go from every
        table they reached, merged facts lose the chain's evidence from those blocks (and go
        when no evidence is left), derived state is recomputed, counters follow."""
        async with self.pool.acquire() as connection, connection.transaction():
            if already_applied(await lock_offsets(connection, self.group, offsets), offsets):
                return 0
            tally: Tally = Counter()
            touched_yield_users: set[str] = set()
            scope = "src_topic = $1 AND src_partition = $2 AND block_hash = ANY($3::text[])"
            for table in CHAIN_TABLES:
                deleted = await connection.fetch(
                    f"DELETE FROM {table} WHERE {scope} RETURNING user_address",  # noqa: S608
                    topic,
                    partition,
                    list(block_hashes),
                )
                tally[(table, topic, partition)] -= len(deleted)
                if table == "yield_operations_log":
                    touched_yield_users |= {r["user_address"] for r in deleted if r["user_address"]}
            # Merged facts lose the chain's evidence only; what the oracle reported stays.
            for merged in MERGED:
                orphaned = await merged.remove_orphaned(connection, topic, partition, block_hashes)
                tally.update(await merged.recompute(connection, orphaned))
            self.known_users.forget_partition(topic, partition)
            # The events of orphaned blocks may come again, mined in another block.
            await connection.execute(
                f"DELETE FROM message_digests WHERE {scope}",  # noqa: S608
                topic,
                partition,
                list(block_hashes),
            )
            if touched_yield_users:
                await participants.recompute(connection, touched_yield_users)
            await _count(connection, tally)
            await store_offsets(connection, self.group, offsets)
            return -sum(n for n in tally.values() if n < 0)

    async def forget_oracle_user(self, user: str, offsets: Offsets) -> None:
        """A tombstone on the compacted state topic: the oracle no longer tracks this user."""
        async with self.pool.acquire() as connection, connection.transaction():
            if already_applied(await lock_offsets(connection, self.group, offsets), offsets):
                return
            deleted = await connection.fetch(
                "DELETE FROM oracle_user_states WHERE user_address = $1 "
                "RETURNING src_topic, src_partition",
                user,
            )
            tally: Tally = Counter(
                {("oracle_user_states", r["src_topic"], r["src_partition"]): -1 for r in deleted}
            )
            await _count(connection, tally)
            await store_offsets(connection, self.group, offsets)

    async def forget_bitcoin_address(self, lookup: bytes, offsets: Offsets) -> None:
        """A tombstone on the Bitcoin balances topic: the address is no longer watched."""
        async with self.pool.acquire() as connection, connection.transaction():
            if already_applied(await lock_offsets(connection, self.group, offsets), offsets):
                return
            deleted = await connection.fetch(
                "DELETE FROM bitcoin_address_balances WHERE address_lookup = $1 "
                "RETURNING src_topic, src_partition",
                lookup,
            )
            tally: Tally = Counter(
                {
                    ("bitcoin_address_balances", r["src_topic"], r["src_partition"]): -1
                    for r in deleted
                }
            )
            await _count(connection, tally)
            await store_offsets(connection, self.group, offsets)

    async def publish_letters(self, send: LetterSender, limit: int = 1000) -> int:
        """Publish queued dead letters and drop them from the outbox once Kafka has them.

        SKIP LOCKED lets several writers share the work; a crash between the send and the
        commit sends a letter again, with the same source identity for readers to dedupe on.
        """
        async with self.pool.acquire() as connection, connection.transaction():
            queued = await connection.fetch(
                "SELECT src_topic, src_partition, src_offset, letter FROM dlq_outbox "
                "ORDER BY created_at LIMIT $1 FOR UPDATE SKIP LOCKED",
                limit,
            )
            if not queued:
                return 0
            await send([DeadLetter.model_validate_json(r["letter"]) for r in queued])
            await connection.execute(
                "DELETE FROM dlq_outbox WHERE (src_topic, src_partition, src_offset) IN "
                "(SELECT * FROM unnest($1::text[], $2::int[], $3::bigint[]))",
                [r["src_topic"] for r in queued],
                [r["src_partition"] for r in queued],
                [r["src_offset"] for r in queued],
            )
            return len(queued)


async def _insert(connection: asyncpg.Connection, spec: TableSpec, rows: list[Row]) -> Tally:
    """Insert one table's rows; returns how many were new per source partition.

    Append-only rows go by COPY, Postgres's fastest path, inside a savepoint: the offsets
    fence already keeps a record from being applied twice, so a key that exists (the same
    event published twice) is rare, and only then does the batch take the upsert path.
    """
    if spec.append_only:
        try:
            async with connection.transaction():
                await connection.copy_records_to_table(
                    spec.name, records=spec.records(rows), columns=[c for c, _ in spec.columns]
                )
            return Counter((spec.name, r["src_topic"], r["src_partition"]) for r in rows)
        except (asyncpg.UniqueViolationError, asyncpg.FeatureNotSupportedError):
            pass  # a duplicate key, or a role still under row-level security: upsert instead
    tally: Tally = Counter()
    for record in await connection.fetch(spec.insert_sql, *spec.arrays(rows)):
        tally[(spec.name, record["src_topic"], record["src_partition"])] += record["inserted"]
    return tally


async def _queue_letters(connection: asyncpg.Connection, letters: Sequence[DeadLetter]) -> None:
    if not letters:
        return
    await connection.execute(
        "INSERT INTO dlq_outbox (src_topic, src_partition, src_offset, letter) "
        "SELECT * FROM unnest($1::text[], $2::int[], $3::bigint[], $4::jsonb[]) "
        "ON CONFLICT DO NOTHING",
        [d.source_topic for d in letters],
        [d.partition for d in letters],
        [d.offset for d in letters],
        [d.to_json().decode() for d in letters],
    )


async def _count(connection: asyncpg.Connection, tally: Tally) -> None:
    added = {key: n for key, n in tally.items() if n > 0}
    removed = {key: -n for key, n in tally.items() if n < 0}
    if added:
        keys = list(added)
        await connection.execute(
            "INSERT INTO sink_counters (table_name, src_topic, src_partition, row_count) "
            "SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::bigint[]) "
            "ON CONFLICT (table_name, src_topic, src_partition) "
            "DO UPDATE SET row_count = sink_counters.row_count + excluded.row_count",
            [k[0] for k in keys],
            [k[1] for k in keys],
            [k[2] for k in keys],
            [added[k] for k in keys],
        )
    if removed:
        # Postgres checks an INSERT's row against CHECK constraints before ON CONFLICT turns it
        # into an update, so a decrement cannot ride on the upsert above.
        keys = list(removed)
        await connection.execute(
            "UPDATE sink_counters AS c SET row_count = c.row_count - u.n "
            "FROM unnest($1::text[], $2::text[], $3::int[], $4::bigint[]) "
            "AS u(table_name, src_topic, src_partition, n) WHERE c.table_name = u.table_name "
            "AND c.src_topic = u.src_topic AND c.src_partition = u.src_partition",
            [k[0] for k in keys],
            [k[1] for k in keys],
            [k[2] for k in keys],
            [removed[k] for k in keys],
        )
