"""The raw limit a sink is measured against: COPY of the rows the db-writer makes of a stream
(its own mapping, deduplicated as it does) into a fresh database, table by table."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

import asyncpg
from db_writer.mapping import Row, Rows, Source, rows_for
from db_writer.merged import MERGED
from db_writer.tables import SPECS
from reservesync.crypto import FieldCipher
from reservesync.messages import decode
from reservesync.topics import CHAIN_EVENTS

from bench.mixed_stream import Record
from bench.own_stack import Database

CHUNK = 5000
"""Records mapped at a time when building the COPY rows (the writer's default batch)."""


# The tables COPY fills: the writer's own, and the evidence its merged tables (users, emergency
# burns) are computed from; those two are derived in SQL by the writer, which COPY is spared.
COPIED = (*SPECS, *(merged.evidence for merged in MERGED))
COPIED_BY_TABLE = {spec.name: spec for spec in COPIED}
CopyRecords = dict[str, list[tuple[Any, ...]]]
"""Table -> its rows as COPY records, in the column order of its TableSpec."""


def copy_records(
    records: Sequence[Record], positions: Sequence[tuple[int, int]], cipher: FieldCipher
) -> CopyRecords:
    """The rows the writer makes of these records (its own mapping, each row with the
    partition and offset the record got), deduplicated as the writer does it: rows of one key
    merged (`TableSpec.deduplicated`) in tables that upsert, every row kept in the others."""
    copy: CopyRecords = defaultdict(list)
    merging: dict[str, list[Row]] = defaultdict(list)
    for start in range(0, len(records), CHUNK):
        rows = Rows()
        for (_, value), (partition, offset) in zip(
            records[start : start + CHUNK], positions[start : start + CHUNK], strict=True
        ):
            message = decode(value, CHAIN_EVENTS.carries)
            rows.extend(rows_for(message, Source(CHAIN_EVENTS.name, partition, offset), cipher))
        for table, chunk in rows.tables.items():
            spec = COPIED_BY_TABLE[table]
            if spec.on_conflict == "DO NOTHING":
                copy[table].extend(spec.records(chunk))
            else:
                merging[table] = spec.deduplicated([*merging[table], *chunk])
    for table, rows_of_key in merging.items():
        copy[table].extend(COPIED_BY_TABLE[table].records(rows_of_key))
    return dict(copy)


async def copy_into(url: str, copy: CopyRecords) -> float:
    """COPY every table's records, table by table; returns the seconds the COPYs took."""
    return sum((await copy_tables(url, copy)).values())


async def copy_tables(url: str, copy: CopyRecords) -> dict[str, float]:
    """COPY every table's records, table by table; returns the seconds each table's took.

    As the tables' owner: Postgres refuses COPY FROM under row-level security, which applies to
    the writer's role (its policy is `USING (true)`, so the two see the same tables)."""
    connection = await asyncpg.connect(url)
    seconds: dict[str, float] = {}
    try:
        for spec in COPIED:
            if copy.get(spec.name):
                started = time.perf_counter()
                await connection.copy_records_to_table(
                    spec.name, records=copy[spec.name], columns=[c for c, _ in spec.columns]
                )
                seconds[spec.name] = time.perf_counter() - started
        return seconds
    finally:
        await connection.close()


async def check_rows(db: Database, expected: Mapping[str, int]) -> None:
    """Every table holds exactly the rows the mapping predicts."""
    connection = await asyncpg.connect(db.migrator_url)
    try:
        found = {
            table: int(await connection.fetchval(f"SELECT count(*) FROM {table}"))
            for table in expected
        }
    finally:
        await connection.close()
    if found != dict(expected):
        raise RuntimeError(f"{db.name}: rows {found}, the mapping predicts {dict(expected)}")
