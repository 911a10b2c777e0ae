"""Prometheus metrics of the db-writer."""

import time
from collections.abc import Callable

from prometheus_client import Counter, Histogram

RECORDS = Counter("db_writer_records_total", "Kafka records consumed and settled")
ROWS = Counter("db_writer_rows_inserted_total", "Rows newly inserted")
DEAD_LETTERS = Counter("db_writer_dead_letters_total", "Records sent to the DLQ")
DB_RETRIES = Counter("db_writer_database_retries_total", "Writes retried after a connection error")
CONFLICTING_DUPLICATES = Counter(
    "db_writer_conflicting_duplicates_total",
    "Records whose idempotency key was written before with other content (dead-lettered)",
)
BATCH_STAGE_SECONDS = Histogram(
    "db_writer_batch_stage_seconds",
    "Seconds per polled batch in each stage: settle (decode, validate, map, in a thread), "
    "write (its transaction and Kafka commit), stalled (settled, waiting for the write before)",
    ["stage"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
"""Which half bounds the writer: a `stalled` that grows means Postgres does, a `settle`
longer than `write` means the writer's own CPU does."""
KAFKA_COMMITS_DEFERRED = Counter(
    "db_writer_kafka_commits_deferred_total",
    "Commits of the database's offsets to Kafka refused or timed out, to be sent again",
)
WRITE_STEP_SECONDS = Counter(
    "db_writer_write_step_seconds",
    "Seconds the batch transactions spent in each step: lock (a connection and the offsets' "
    "rows), claims (the idempotency keys), each table's rows by name, derived (users, "
    "emergency burns and pool members recomputed), bookkeeping (counters and offsets), commit",
    ["step"],
)
"""What a write costs beyond the rows themselves: the tables' steps are what a COPY of the
same rows costs too (bench/sink.py prints both side by side), the others are the writer's own."""


class StepClock:
    """Charges the time since the step before to each step as it ends, so that the steps of
    one transaction add up to the whole of it."""

    def __init__(self, clock: Callable[[], float] = time.perf_counter) -> None:
        self._clock = clock
        self._last = clock()

    def done(self, step: str) -> None:
        now = self._clock()
        WRITE_STEP_SECONDS.labels(step).inc(now - self._last)
        self._last = now
