"""The writer's rows as Kafka Connect records, JSON with schemas (what the JDBC sink needs).

Each row becomes one record on a topic named after its table: the key a struct of the table's
natural key (the upsert's conflict target), the value a struct of the other columns. Column
types follow the table: numeric(78,0) as Connect's Decimal (exact, like the writer's ints),
timestamptz as Debezium's ZonedTimestamp, jsonb as Debezium's Json, so the connector binds each
value with the column's own type.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from db_writer.tables import TableSpec

# Postgres type -> Connect schema of a field (without its name and optionality).
FIELD_SCHEMAS: dict[str, dict[str, Any]] = {
    "text": {"type": "string"},
    "bigint": {"type": "int64"},
    "int": {"type": "int32"},
    "smallint": {"type": "int16"},
    "boolean": {"type": "boolean"},
    "bytea": {"type": "bytes"},
    "numeric": {
        "type": "bytes",
        "name": "org.apache.kafka.connect.data.Decimal",
        "version": 1,
        "parameters": {"scale": "0"},
    },
    "timestamptz": {"type": "string", "name": "io.debezium.time.ZonedTimestamp", "version": 1},
    "jsonb": {"type": "string", "name": "io.debezium.data.Json", "version": 1},
}


def _decimal(value: int) -> str:
    """Connect's Decimal in JSON: the unscaled value, big-endian two's complement, base64."""
    size = (value.bit_length() + 8) // 8
    return base64.b64encode(value.to_bytes(size, "big", signed=True)).decode()


def _json_value(value: Any, kind: str) -> Any:
    if value is None:
        return None
    if kind == "numeric":
        return _decimal(int(value))
    if kind == "timestamptz":
        assert isinstance(value, datetime)
        return value.isoformat()
    if kind == "bytea":
        return base64.b64encode(value).decode()
    return value


class ConnectEncoding:
    """One table's key and value schemas, serialised once; each record splices its payload in."""

    def __init__(self, spec: TableSpec) -> None:
        self.spec = spec
        kinds = dict(spec.columns)
        self.key_columns = [(c, kinds[c]) for c in spec.key]
        self.value_columns = [(c, k) for c, k in spec.columns if c not in spec.key]
        self.positions = {c: i for i, (c, _) in enumerate(spec.columns)}
        self.key_prefix = self._prefix("Key", self.key_columns, optional=False)
        self.value_prefix = self._prefix("Value", self.value_columns, optional=True)

    def _prefix(self, role: str, columns: Sequence[tuple[str, str]], *, optional: bool) -> bytes:
        fields = [
            {**FIELD_SCHEMAS[kind], "field": column, "optional": optional}
            for column, kind in columns
        ]
        schema = {"type": "struct", "name": f"{self.spec.name}.{role}", "fields": fields}
        return b'{"schema":' + json.dumps(schema, separators=(",", ":")).encode() + b',"payload":'

    def _struct(
        self, prefix: bytes, columns: Sequence[tuple[str, str]], row: Sequence[Any]
    ) -> bytes:
        payload = {c: _json_value(row[self.positions[c]], kind) for c, kind in columns}
        return prefix + json.dumps(payload, separators=(",", ":")).encode() + b"}"

    def record(self, row: Sequence[Any]) -> tuple[bytes, bytes]:
        """(key, value) of one COPY record (a row in the column order of the spec)."""
        return (
            self._struct(self.key_prefix, self.key_columns, row),
            self._struct(self.value_prefix, self.value_columns, row),
        )

    def records(self, rows: Sequence[Sequence[Any]]) -> Iterator[tuple[bytes, bytes]]:
        return (self.record(row) for row in rows)
