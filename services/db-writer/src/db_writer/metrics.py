"""Prometheus metrics of the db-writer."""

from prometheus_client import Counter

RECORDS = Counter("db_writer_records_total", "Kafka records consumed and settled")
ROWS = Counter("db_writer_rows_inserted_total", "Rows newly inserted")
DEAD_LETTERS = Counter("db_writer_dead_letters_total", "Records sent to the DLQ")
DB_RETRIES = Counter("db_writer_database_retries_total", "Writes retried after a connection error")
CONFLICTING_DUPLICATES = Counter(
    "db_writer_conflicting_duplicates_total",
    "Records whose idempotency key was written before with other content (dead-lettered)",
)
