"""The oracle client's outbox: operations not yet accepted by the oracle-logger, on disk.

An operation is committed here (SQLite, `synchronous=FULL`: fsynced) before `log_operation`
returns, and removed only once the service has answered 202 for it, so an oracle process that
dies while the service is unreachable loses nothing: the next process with the same file sends
what is left, in the order it was logged. The operation id is unique in the file, so logging the
same operation again (an oracle that redoes its last step after a crash) keeps one copy.

Operations the service refused as malformed (4xx other than 401/403/429) move to `refused` with
the answer: kept for the operator, out of the way of those behind them.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from reservesync.messages import OracleOperation

IN_MEMORY = ":memory:"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS pending (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    operation_id TEXT NOT NULL UNIQUE,
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS refused (
    operation_id TEXT PRIMARY KEY,
    body TEXT NOT NULL,
    answer TEXT NOT NULL,
    refused_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
);
"""


class Outbox:
    def __init__(self, path: Path | str = IN_MEMORY) -> None:
        if str(path) != IN_MEMORY:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.path = str(path)
        # Autocommit off, one short transaction per call; FULL makes each commit an fsync.
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        # The client calls from worker threads (asyncio.to_thread), adding while it removes:
        # one connection, so one caller at a time.
        self._lock = threading.RLock()
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)

    @property
    def durable(self) -> bool:
        return self.path != IN_MEMORY

    def add(self, operation: OracleOperation) -> None:
        """Committed to disk when this returns."""
        with self._transaction():
            self._db.execute(
                "INSERT OR IGNORE INTO pending (operation_id, body) VALUES (?, ?)",
                (operation.operation_id, operation.model_dump_json(by_alias=True)),
            )

    def head(self, limit: int) -> list[tuple[int, OracleOperation]]:
        """The oldest `limit` pending operations with their sequence numbers, in order."""
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, body FROM pending ORDER BY seq LIMIT ?", (limit,)
            ).fetchall()
        return [(seq, OracleOperation.model_validate_json(body)) for seq, body in rows]

    def remove(self, sequences: list[int]) -> None:
        with self._transaction():
            self._db.executemany("DELETE FROM pending WHERE seq = ?", [(s,) for s in sequences])

    def refuse(self, sequences: list[int], answer: str) -> None:
        with self._transaction():
            for seq in sequences:
                self._db.execute(
                    "INSERT OR REPLACE INTO refused (operation_id, body, answer) "
                    "SELECT operation_id, body, ? FROM pending WHERE seq = ?",
                    (answer, seq),
                )
                self._db.execute("DELETE FROM pending WHERE seq = ?", (seq,))

    def pending(self) -> int:
        with self._lock:
            (count,) = self._db.execute("SELECT count(*) FROM pending").fetchone()
        return int(count)

    def refused(self) -> list[tuple[str, str]]:
        """(operation id, the service's answer) of every refused operation."""
        with self._lock:
            rows = self._db.execute(
                "SELECT operation_id, answer FROM refused ORDER BY refused_at"
            ).fetchall()
        return [(str(op), str(answer)) for op, answer in rows]

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db, self._lock)


class _Transaction:
    def __init__(self, db: sqlite3.Connection, lock: threading.RLock) -> None:
        self._db = db
        self._lock = lock

    def __enter__(self) -> None:
        self._lock.acquire()
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except BaseException:
            self._lock.release()
            raise

    def __exit__(self, exc_type: object, exc: object, traceback: object) -> None:
        try:
            self._db.execute("COMMIT" if exc_type is None else "ROLLBACK")
        finally:
            self._lock.release()
