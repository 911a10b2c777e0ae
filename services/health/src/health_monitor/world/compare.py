"""Content, not counts: the world's digests against the database's, per table and bucket, and
for a bucket that differs, item by item, so the first divergence is named (table, block range,
key, and whether the row is missing, extra or altered).

Cost per cycle: one read of each digests table (a few rows per digest range or hash bucket) and,
only for a diverging bucket, the rows of that bucket on both sides (`DRILL_LIMIT` buckets and
`DRILL_ITEMS` items per table at most; a bucket larger than what is left is judged by its
digests' counts alone, as the buckets past `DRILL_LIMIT` are). Rows the database holds from
blocks health has not read yet are "ahead", not extra: the writer may be a few blocks in front
of health's grace period.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import asyncpg
from reservesync import digests
from reservesync.digests import SQL, Digest, Item

from health_monitor.world.oracle_world import OracleSnapshot

DRILL_LIMIT = 8
DRILL_ITEMS = 50_000
"""Items a table's drill-downs may hold a cycle: a bucket of a chain dense with logs (800 a
block is 800,000 in a 1,000-block range) read on both sides made health's memory follow the
chain's density, and the node build its largest answers, while a lagging database made every
bucket diverge."""
SHOWN = 5
WorldRange = Callable[[int, int], Awaitable[list[Item]]]


@dataclass(frozen=True)
class Divergence:
    table: str
    kind: str
    """missing (in the world, not in the database), extra (the other way), altered."""
    key: str
    bucket: int
    blocks: tuple[int, int] | None = None
    """The block range of the bucket (transactions)."""
    database: str | None = None
    world: str | None = None

    def describe(self) -> str:
        where = (
            f"blocks {self.blocks[0]}-{self.blocks[1]}" if self.blocks else f"bucket {self.bucket}"
        )
        text = f"{self.table} {where}: {self.kind} {self.key}"
        if self.kind == "altered":
            text += f" (database {self.database!r}, world {self.world!r})"
        return text


@dataclass
class TableVerdict:
    table: str
    known: bool
    """False when the world's side of this table could not be read."""
    world: int = 0
    database: int = 0
    missing: int = 0
    extra: int = 0
    altered: int = 0
    ahead: int = 0
    diverging: int = 0
    found: list[Divergence] = field(default_factory=list)

    @property
    def agrees(self) -> bool:
        return self.known and not (self.missing or self.extra or self.altered)


async def _digests(connection: asyncpg.Connection, relation: str, table: str) -> dict[int, Digest]:
    rows = await connection.fetch(
        f"SELECT bucket, n, total FROM {relation} WHERE tbl = $1 AND n <> 0",  # noqa: S608
        table,
    )
    return {int(r["bucket"]): Digest(int(r["n"]), int(r["total"])) for r in rows}


async def compare(
    pool: asyncpg.Pool,
    chain_next: int | None,
    oracle: OracleSnapshot | None,
    world_transactions: WorldRange,
) -> dict[str, TableVerdict]:
    async with pool.acquire() as connection:
        return {
            "transactions": await _transactions(connection, chain_next, world_transactions),
            "users": await _keyed(connection, "users", chain_next, known=chain_next is not None),
            "emergency_burns": await _keyed(
                connection, "emergency_burns", chain_next, known=chain_next is not None
            ),
            "oracle_operations_log": await _operations(connection, oracle),
        }


async def _transactions(
    connection: asyncpg.Connection, chain_next: int | None, world_range: WorldRange
) -> TableVerdict:
    verdict = TableVerdict("transactions", known=chain_next is not None)
    if chain_next is None:
        return verdict
    world = await _digests(connection, "health_world_digests", "transactions")
    database = await _digests(connection, "health_db_digests", "transactions")
    current = digests.block_bucket(chain_next)
    judged = {b: d for b, d in database.items() if b < current}
    partial_first = current * digests.RANGE_BLOCKS
    if chain_next > partial_first:
        aggregate = f"sum({SQL['transactions'].hash}::numeric)"
        row = await connection.fetchrow(
            f"SELECT count(*) AS n, coalesce({aggregate}, 0) AS t FROM transactions r "  # noqa: S608
            "WHERE block_number BETWEEN $1 AND $2",
            partial_first,
            chain_next - 1,
        )
        if row["n"]:
            judged[current] = Digest(int(row["n"]), int(row["t"]))
    verdict.world = sum(d.n for d in world.values())
    verdict.database = sum(d.n for d in judged.values())
    verdict.ahead = sum(d.n for b, d in database.items() if b > current)
    verdict.ahead += (
        sum(d.n for b, d in database.items() if b == current) - judged.get(current, Digest()).n
    )

    async def drill(bucket: int) -> tuple[dict[str, Item], dict[str, Item]]:
        first = bucket * digests.RANGE_BLOCKS
        last = min(first + digests.RANGE_BLOCKS - 1, chain_next - 1)
        theirs = {i.key: i for i in await world_range(first, last)}
        ours = await _rows(
            connection, "transactions", "block_number BETWEEN $1 AND $2", first, last
        )
        return theirs, ours

    await _judge(verdict, world, judged, drill, blocks=True)
    return verdict


async def _keyed(
    connection: asyncpg.Connection, table: str, chain_next: int | None, *, known: bool
) -> TableVerdict:
    verdict = TableVerdict(table, known=known)
    world = await _digests(connection, "health_world_digests", table)
    database = await _digests(connection, "health_db_digests", table)
    verdict.world = sum(d.n for d in world.values())
    verdict.database = sum(d.n for d in database.values())
    world_relation, block_column = {
        "users": ("health_world_users", "first_seen_block"),
        "emergency_burns": ("health_world_burns", "block_number"),
    }[table]
    sql = SQL[table]
    horizon = chain_next if chain_next is not None else 2**62

    async def drill(bucket: int) -> tuple[dict[str, Item], dict[str, Item]]:
        world_rows = await connection.fetch(
            f"SELECT {sql.key} AS key, {sql.content} AS content FROM {world_relation} r "  # noqa: S608
            f"WHERE {sql.bucket} = $1",
            bucket,
        )
        theirs = {r["key"]: Item(table, r["key"], r["content"], bucket) for r in world_rows}
        ours = await _rows(
            connection,
            table,
            f"{sql.bucket} = $1 AND NOT coalesce(r.{block_column} >= $2, false)",
            bucket,
            horizon,
        )
        return theirs, ours

    await _judge(verdict, world, database, drill, blocks=False)
    ahead = (
        await connection.fetchval(
            f"SELECT count(*) FROM {table} r WHERE r.{block_column} >= $1",  # noqa: S608
            horizon,
        )
        if chain_next is not None
        else 0
    )
    verdict.ahead = int(ahead or 0)
    verdict.database -= verdict.ahead
    return verdict


async def _operations(
    connection: asyncpg.Connection, oracle: OracleSnapshot | None
) -> TableVerdict:
    table = "oracle_operations_log"
    verdict = TableVerdict(table, known=oracle is not None)
    database = await _digests(connection, "health_db_digests", table)
    verdict.database = sum(d.n for d in database.values())
    if oracle is None:
        return verdict
    verdict.world = oracle.journal

    async def drill(bucket: int) -> tuple[dict[str, Item], dict[str, Item]]:
        theirs = {i.key: i for i in oracle.items.get(bucket, [])}
        ours = await _rows(connection, table, f"{SQL[table].bucket} = $1", bucket)
        return theirs, ours

    await _judge(verdict, oracle.digests, database, drill, blocks=False)
    return verdict


async def _rows(
    connection: asyncpg.Connection, table: str, where: str, *args: object
) -> dict[str, Item]:
    sql = SQL[table]
    rows = await connection.fetch(
        f"SELECT {sql.key} AS key, {sql.content} AS content, {sql.bucket} AS bucket "  # noqa: S608
        f"FROM {table} r WHERE {where}",
        *args,
    )
    return {r["key"]: Item(table, r["key"], r["content"], int(r["bucket"])) for r in rows}


async def _judge(
    verdict: TableVerdict,
    world: dict[int, Digest],
    database: dict[int, Digest],
    drill: Callable[[int], Awaitable[tuple[dict[str, Item], dict[str, Item]]]],
    *,
    blocks: bool,
) -> None:
    diverging = sorted(
        b for b in set(world) | set(database) if world.get(b, Digest()) != database.get(b, Digest())
    )
    verdict.diverging = len(diverging)
    budget = DRILL_ITEMS
    for index, bucket in enumerate(diverging):
        theirs_n, ours_n = world.get(bucket, Digest()).n, database.get(bucket, Digest()).n
        if index >= DRILL_LIMIT or theirs_n + ours_n > budget:
            verdict.missing += max(0, theirs_n - ours_n)
            verdict.extra += max(0, ours_n - theirs_n)
            verdict.altered += int(theirs_n == ours_n)
            continue
        budget -= theirs_n + ours_n
        theirs, ours = await drill(bucket)
        span = (
            (bucket * digests.RANGE_BLOCKS, (bucket + 1) * digests.RANGE_BLOCKS - 1)
            if blocks
            else None
        )
        for key in sorted(set(theirs) | set(ours)):
            world_item, row = theirs.get(key), ours.get(key)
            if world_item is not None and row is not None and world_item.content == row.content:
                continue
            kind = "missing" if row is None else "extra" if world_item is None else "altered"
            setattr(verdict, kind, getattr(verdict, kind) + 1)
            if len(verdict.found) < SHOWN:
                verdict.found.append(
                    Divergence(
                        verdict.table,
                        kind,
                        key,
                        bucket,
                        span,
                        row.content if row else None,
                        world_item.content if world_item else None,
                    )
                )
