"""How each table is written in bulk: its columns, its natural key, and what a second message
with the same key does (nothing, or an upsert that merges). Facts several sources report
(users, emergency burns) are merged from evidence instead: `db_writer.merged`."""

from __future__ import annotations

import functools
import json
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from db_writer.mapping import Row

PROVENANCE = (("src_topic", "text"), ("src_partition", "int"), ("src_offset", "bigint"))
CHAIN_ORIGIN = (
    ("chain_id", "bigint"),
    ("tx_hash", "text"),
    ("log_index", "int"),
    ("block_number", "bigint"),
    ("block_hash", "text"),
    ("block_timestamp", "timestamptz"),
)
# Columns whose arrays cannot be unnested as they are (unnest flattens arrays of arrays), so
# they travel as jsonb and are converted in the SELECT.
SELECT_EXPRESSIONS = {"sources_used": "ARRAY(SELECT jsonb_array_elements_text(sources_used))"}


def _last(_: Row, later: Row) -> Row:
    return later


@dataclass(frozen=True)
class TableSpec:
    name: str
    columns: tuple[tuple[str, str], ...]
    key: tuple[str, ...]
    on_conflict: str = "DO NOTHING"
    merge: Callable[[Row, Row], Row] = _last
    """Combines two rows of one key met in the same batch (Postgres refuses to upsert a row
    twice in one statement)."""

    @functools.cached_property
    def insert_sql(self) -> str:
        names = ", ".join(c for c, _ in self.columns)
        arrays = ", ".join(f"${i}::{t}[]" for i, (_, t) in enumerate(self.columns, start=1))
        select = ", ".join(SELECT_EXPRESSIONS.get(c, c) for c, _ in self.columns)
        # Built from the constant specs below, never from input.
        # The rows come back aggregated per source partition: what the counters need, without
        # a row per insert crossing the wire.
        return (
            f"WITH written AS (INSERT INTO {self.name} ({names}) SELECT {select} "  # noqa: S608
            f"FROM unnest({arrays}) AS u({names}) "
            f"ON CONFLICT ({', '.join(self.key)}) {self.on_conflict} "
            f"RETURNING (xmax = 0) AS inserted, src_topic, src_partition) "
            f"SELECT src_topic, src_partition, count(*) AS inserted FROM written "
            f"WHERE inserted GROUP BY src_topic, src_partition"
        )

    @property
    def append_only(self) -> bool:
        """Rows that never merge: a batch of them can be COPYed unless one already exists."""
        return self.on_conflict == "DO NOTHING"

    @functools.cached_property
    def _row_values(self) -> Callable[[Row], tuple[Any, ...]]:
        """A row's values in column order, read in C (itemgetter): the COPY path calls this
        for every row, and a Python loop per value was its largest cost (bench/profile)."""
        get = operator.itemgetter(*(c for c, _ in self.columns))
        return get if len(self.columns) > 1 else lambda row: (get(row),)

    @functools.cached_property
    def _serialised_in_copy(self) -> tuple[int, ...]:
        """Positions of jsonb columns, whose values COPY takes as text (those converted in the
        INSERT's SELECT are arrays in the table, and COPY takes them as lists)."""
        return tuple(
            i
            for i, (c, kind) in enumerate(self.columns)
            if kind == "jsonb" and c not in SELECT_EXPRESSIONS
        )

    def records(self, rows: Sequence[Row]) -> list[tuple[Any, ...]]:
        """Rows as COPY records (a text[] column travels as a list, not as jsonb)."""
        values = self._row_values
        if not self._serialised_in_copy:
            return list(map(values, rows))
        records = []
        for row in rows:
            record = list(values(row))
            for i in self._serialised_in_copy:
                record[i] = _pg(record[i], "jsonb")
            records.append(tuple(record))
        return records

    def deduplicated(self, rows: Sequence[Row]) -> list[Row]:
        if self.on_conflict == "DO NOTHING":
            return list(rows)
        merged: dict[Any, Row] = {}
        key_of = operator.itemgetter(*self.key)
        for row in rows:
            key = key_of(row)
            merged[key] = self.merge(merged[key], row) if key in merged else row
        return list(merged.values())

    def arrays(self, rows: Sequence[Row]) -> list[list[Any]]:
        """One array per column, for the INSERT … SELECT FROM unnest(...) path."""
        return [
            [_pg(row[column], kind) for row in rows]
            if kind == "jsonb"
            else list(map(operator.itemgetter(column), rows))
            for column, kind in self.columns
        ]


def _pg(value: Any, kind: str) -> Any:
    # asyncpg encodes Python ints as numeric exactly; only jsonb needs text.
    if kind == "jsonb" and value is not None:
        return json.dumps(value, sort_keys=True)
    return value


def _newest(field: str) -> Callable[[Row, Row], Row]:
    def pick(earlier: Row, later: Row) -> Row:
        return later if later[field] >= earlier[field] else earlier

    return pick


SPECS: tuple[TableSpec, ...] = (
    TableSpec(
        "transactions",
        (
            *CHAIN_ORIGIN,
            ("user_address", "text"),
            ("tx_type", "text"),
            ("amount", "numeric"),
            ("unit", "text"),
            ("balance_after_sats", "numeric"),
            ("fee_wei", "numeric"),
            ("contract", "text"),
            ("event", "text"),
            *PROVENANCE,
        ),
        ("chain_id", "tx_hash", "log_index"),
    ),
    TableSpec(
        "balance_history",
        (
            *CHAIN_ORIGIN,
            ("user_address", "text"),
            ("previous_sats", "numeric"),
            ("new_sats", "numeric"),
            ("delta_sats", "bigint"),
            ("fee_wei", "numeric"),
            ("cause", "text"),
            *PROVENANCE,
        ),
        ("chain_id", "tx_hash", "log_index"),
    ),
    TableSpec(
        "balance_snapshots",
        (
            *CHAIN_ORIGIN,
            ("user_address", "text"),
            ("balance_sats", "numeric"),
            ("taken_at", "timestamptz"),
            *PROVENANCE,
        ),
        ("chain_id", "tx_hash", "log_index"),
    ),
    TableSpec(
        "balance_disputes",
        (
            ("user_address", "text"),
            ("kind", "text"),
            ("reported_balance", "numeric"),
            ("oracle_balance", "numeric"),
            ("description_ciphertext", "bytea"),
            ("key_id", "text"),
            ("occurred_at", "timestamptz"),
            ("tx_hash", "text"),
            ("block_hash", "text"),
            ("operation_id", "text"),
            *PROVENANCE,
        ),
        ("src_topic", "src_partition", "src_offset"),
    ),
    TableSpec(
        "oracle_operations_log",
        (
            ("operation_id", "text"),
            ("action", "text"),
            ("user_address", "text"),
            ("bitcoin_address_ciphertext", "bytea"),
            ("bitcoin_address_lookup", "bytea"),
            ("key_id", "text"),
            ("amount_sats", "bigint"),
            ("previous_sats", "bigint"),
            ("tx_hash", "text"),
            ("block_number", "bigint"),
            ("reason", "text"),
            ("consensus_reached", "boolean"),
            ("sources_used", "jsonb"),
            ("status", "text"),
            ("occurred_at", "timestamptz"),
            ("oracle_id", "text"),
            *PROVENANCE,
        ),
        ("operation_id",),
    ),
    TableSpec(
        "oracle_user_states",
        (
            ("user_address", "text"),
            ("last_synced_sats", "bigint"),
            ("last_sync_at", "timestamptz"),
            ("registered_at", "timestamptz"),
            ("operations_performed", "bigint"),
            ("known_burns", "int"),
            ("as_of", "timestamptz"),
            *PROVENANCE,
        ),
        ("user_address",),
        "DO UPDATE SET last_synced_sats = excluded.last_synced_sats, "
        "last_sync_at = excluded.last_sync_at, registered_at = excluded.registered_at, "
        "operations_performed = excluded.operations_performed, "
        "known_burns = excluded.known_burns, as_of = excluded.as_of, "
        "src_topic = excluded.src_topic, src_partition = excluded.src_partition, "
        "src_offset = excluded.src_offset "
        "WHERE excluded.as_of >= oracle_user_states.as_of",
        _newest("as_of"),
    ),
    TableSpec(
        "bitcoin_addresses",
        (
            ("user_address", "text"),
            ("address_ciphertext", "bytea"),
            ("address_lookup", "bytea"),
            ("key_id", "text"),
            ("network", "text"),
            ("verified_at", "timestamptz"),
            ("monitoring", "boolean"),
            *PROVENANCE,
        ),
        ("user_address", "address_lookup"),
        "DO UPDATE SET network = excluded.network, verified_at = excluded.verified_at, "
        "monitoring = excluded.monitoring, src_topic = excluded.src_topic, "
        "src_partition = excluded.src_partition, src_offset = excluded.src_offset "
        "WHERE (bitcoin_addresses.network, bitcoin_addresses.verified_at, "
        "bitcoin_addresses.monitoring) IS DISTINCT FROM "
        "(excluded.network, excluded.verified_at, excluded.monitoring)",
    ),
    TableSpec(
        "bitcoin_address_balances",
        (
            ("address_lookup", "bytea"),
            ("address_ciphertext", "bytea"),
            ("key_id", "text"),
            ("network", "text"),
            ("confirmed_sats", "bigint"),
            ("height", "bigint"),
            ("block_hash", "text"),
            ("as_of", "timestamptz"),
            *PROVENANCE,
        ),
        ("address_lookup",),
        # The newest record of the address wins: its records share one partition of the
        # compacted topic, whose order is the listener's (a reorg's correction may stand at a
        # lower height than what it corrects). Compaction keeps that newest record, so a
        # replay ends on the same row.
        "DO UPDATE SET address_ciphertext = excluded.address_ciphertext, "
        "key_id = excluded.key_id, network = excluded.network, "
        "confirmed_sats = excluded.confirmed_sats, height = excluded.height, "
        "block_hash = excluded.block_hash, as_of = excluded.as_of, updated_at = now(), "
        "src_topic = excluded.src_topic, src_partition = excluded.src_partition, "
        "src_offset = excluded.src_offset "
        "WHERE (excluded.src_partition, excluded.src_offset) > "
        "(bitcoin_address_balances.src_partition, bitcoin_address_balances.src_offset)",
        _newest("src_offset"),
    ),
    TableSpec(
        "system_contracts",
        (
            ("chain_id", "bigint"),
            ("name", "text"),
            ("address", "text"),
            ("deployed_block", "bigint"),
            ("code_present", "boolean"),
            ("observed_at", "timestamptz"),
            *PROVENANCE,
        ),
        ("chain_id", "name"),
        "DO UPDATE SET address = excluded.address, deployed_block = excluded.deployed_block, "
        "code_present = excluded.code_present, observed_at = excluded.observed_at, "
        "src_topic = excluded.src_topic, src_partition = excluded.src_partition, "
        "src_offset = excluded.src_offset "
        "WHERE excluded.observed_at >= system_contracts.observed_at",
        _newest("observed_at"),
    ),
    TableSpec(
        "yield_operations_log",
        (
            *CHAIN_ORIGIN,
            ("operation", "text"),
            ("user_address", "text"),
            ("participant_type", "smallint"),
            ("amount", "numeric"),
            ("details", "jsonb"),
            *PROVENANCE,
        ),
        ("chain_id", "tx_hash", "log_index"),
    ),
    TableSpec(
        "token_movements",
        (
            ("token", "text"),
            ("token_address", "text"),
            ("user_address", "text"),
            ("direction", "text"),
            ("counterparty", "text"),
            ("amount", "numeric"),
            *CHAIN_ORIGIN,
            *PROVENANCE,
        ),
        ("chain_id", "tx_hash", "log_index", "direction"),
    ),
)
SPEC_BY_TABLE = {spec.name: spec for spec in SPECS}

# Tables whose rows come from chain events and carry the block hash they were mined in.
CHAIN_TABLES = (
    "transactions",
    "balance_history",
    "balance_snapshots",
    "yield_operations_log",
    "balance_disputes",
    "token_movements",
)
