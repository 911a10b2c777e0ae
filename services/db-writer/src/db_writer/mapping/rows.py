"""The rows one batch produces, and what every row carries."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

Row = dict[str, Any]


@dataclass(frozen=True)
class Source:
    """The message a row comes from: its provenance, stored on the row."""

    topic: str
    partition: int
    offset: int

    def columns(self) -> Row:
        return {"src_topic": self.topic, "src_partition": self.partition, "src_offset": self.offset}


@dataclass
class Rows:
    """Rows per table name, in message order."""

    tables: defaultdict[str, list[Row]] = field(default_factory=lambda: defaultdict(list))
    yield_users: set[str] = field(default_factory=set)
    """Users whose YieldScales participation must be recomputed after the write."""

    def add(self, table: str, row: Row) -> None:
        self.tables[table].append(row)

    def extend(self, other: Rows) -> None:
        for table, rows in other.tables.items():
            self.tables[table].extend(rows)
        self.yield_users |= other.yield_users

    def __bool__(self) -> bool:
        return any(self.tables.values()) or bool(self.yield_users)
