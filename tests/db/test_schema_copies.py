"""The migrations are the one definition of the schema; every place that spells columns, types
or keys again in Python is checked here against the live catalog of the migrated database, so
a migration that renames, retypes or re-keys a column fails this test, not an insert in
production."""

from __future__ import annotations

import asyncpg
import pytest
from db_writer.checksum import CHECKED
from db_writer.merged import MERGED, Merged
from db_writer.retention import RULES, Rule
from db_writer.tables import CHAIN_TABLES, SELECT_EXPRESSIONS, SPECS, TableSpec

# How a type written in a spec appears in information_schema.columns.data_type.
CATALOG_TYPES = {
    "text": "text",
    "smallint": "smallint",
    "int": "integer",
    "bigint": "bigint",
    "numeric": "numeric",
    "boolean": "boolean",
    "bytea": "bytea",
    "jsonb": "jsonb",
    "timestamptz": "timestamp with time zone",
}
# A column sent as jsonb and converted in the INSERT's SELECT (`SELECT_EXPRESSIONS`) is an
# array in the table.
CONVERTED_TYPES = {"sources_used": "ARRAY"}


async def _columns(db: asyncpg.Connection, table: str) -> dict[str, asyncpg.Record]:
    rows = await db.fetch(
        "SELECT column_name, data_type, is_nullable, column_default, is_identity, is_generated "
        "FROM information_schema.columns WHERE table_schema = 'public' AND table_name = $1",
        table,
    )
    assert rows, f"table {table} is not in the migrated schema"
    return {r["column_name"]: r for r in rows}


async def _unique_keys(db: asyncpg.Connection, table: str) -> set[frozenset[str]]:
    """Column sets of the unique indexes (primary keys and unique constraints included)."""
    rows = await db.fetch(
        "SELECT array_agg(a.attname::text) AS columns FROM pg_index i "
        "JOIN pg_class c ON c.oid = i.indrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public' "
        "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = ANY(i.indkey) "
        "WHERE c.relname = $1 AND i.indisunique AND i.indpred IS NULL "
        "GROUP BY i.indexrelid",
        table,
    )
    return {frozenset(r["columns"]) for r in rows}


WRITTEN = (*SPECS, *(merged.evidence for merged in MERGED))


def _named(entry: TableSpec | Rule) -> str:
    return entry.name if isinstance(entry, TableSpec) else entry.table


@pytest.mark.parametrize("spec", WRITTEN, ids=_named)
async def test_each_written_table_matches_its_spec(db: asyncpg.Connection, spec: TableSpec) -> None:
    columns = await _columns(db, spec.name)
    for name, kind in spec.columns:
        assert name in columns, f"{spec.name}.{name} is written but not in the schema"
        expected = CONVERTED_TYPES.get(name) if name in SELECT_EXPRESSIONS else CATALOG_TYPES[kind]
        assert columns[name]["data_type"] == expected, (
            f"{spec.name}.{name}: written as {kind}, the column is {columns[name]['data_type']}"
        )
    written = {name for name, _ in spec.columns}
    required = {
        name
        for name, column in columns.items()
        if column["is_nullable"] == "NO"
        and column["column_default"] is None
        and column["is_identity"] == "NO"
        and column["is_generated"] == "NEVER"
    }
    assert required <= written, f"{spec.name}: required columns never written {required - written}"
    assert frozenset(spec.key) in await _unique_keys(db, spec.name), (
        f"{spec.name}: ON CONFLICT ({', '.join(spec.key)}) needs a unique index on exactly it"
    )


async def test_every_table_with_rows_of_the_topics_is_checksummed(
    db: asyncpg.Connection,
) -> None:
    """`db_writer.checksum` is how replays are proven equal: a table it forgets is unproven."""
    checked = {c.table for c in CHECKED}
    written = {spec.name for spec in WRITTEN} | {merged.table for merged in MERGED}
    assert written <= checked, f"written but never checksummed: {written - checked}"
    for entry in CHECKED:
        columns = await _columns(db, entry.table)
        ordered = {part.strip() for part in entry.order_by.split(",")}
        assert ordered <= set(columns), (
            f"{entry.table}: ordered by missing {ordered - set(columns)}"
        )
        for encrypted in entry.encrypted:
            assert encrypted.column in columns, f"{entry.table}.{encrypted.column} is missing"


@pytest.mark.parametrize("merged", MERGED, ids=lambda merged: merged.table)
async def test_merged_facts_are_unique_by_their_key(db: asyncpg.Connection, merged: Merged) -> None:
    table, key = merged.table, merged.key
    assert frozenset({key}) in await _unique_keys(db, table), f"{table}.{key} is not unique"


@pytest.mark.parametrize("table", CHAIN_TABLES)
async def test_chain_tables_carry_what_a_reorg_deletes_by(
    db: asyncpg.Connection, table: str
) -> None:
    columns = await _columns(db, table)
    needed = {"block_hash", "src_topic", "src_partition", "user_address"}
    assert needed <= set(columns), f"{table} lacks {needed - set(columns)}"


@pytest.mark.parametrize("rule", RULES, ids=_named)
async def test_retention_rules_name_a_time_column(db: asyncpg.Connection, rule: Rule) -> None:
    columns = await _columns(db, rule.table)
    assert rule.time_column in columns, f"{rule.table}.{rule.time_column} is missing"
    assert columns[rule.time_column]["data_type"] == "timestamp with time zone"
