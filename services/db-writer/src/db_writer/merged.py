"""Facts several sources report (a user, an emergency burn), merged from per-source evidence.

The rule, for every merged fact: each source's report is kept apart as an evidence row keyed
by the fact and by the topic and partition that reported it (`user_evidence`,
`emergency_burn_evidence`); the merged row (`users`, `emergency_burns`) is a function of the
evidence alone, recomputed for the keys a batch or a reorg touched, and deleted when no
evidence is left. A reorg notice deletes the chain evidence of its partition's orphaned blocks,
so it takes back exactly the chain's part and leaves the oracle's. Because a merged row does
not depend on the order its evidence arrived in, a replay (which interleaves the topics
differently) rebuilds the same rows, and the counters follow the merged rows' provenance (the
evidence the row is taken from), which is order-free too.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Sequence

import asyncpg

from db_writer.known_users import sighting
from db_writer.mapping import Row
from db_writer.tables import TableSpec

Tally = Counter[tuple[str, str, int]]
EVIDENCE_SOURCE = (
    ("source", "text"),
    ("src_topic", "text"),
    ("src_partition", "int"),
    ("src_offset", "bigint"),
    ("block_hash", "text"),
)


def _earliest(earlier: Row, later: Row) -> Row:
    return later if sighting(later) < sighting(earlier) else earlier


USER_EVIDENCE = TableSpec(
    "user_evidence",
    (
        ("address", "text"),
        ("first_seen_at", "timestamptz"),
        ("first_seen_block", "bigint"),
        *EVIDENCE_SOURCE,
    ),
    ("address", "source", "src_topic", "src_partition"),
    # The earliest sighting of its partition: on chain the lowest block, so that when a reorg
    # orphans it every later sighting of the partition is orphaned as well.
    "DO UPDATE SET first_seen_at = excluded.first_seen_at, "
    "first_seen_block = excluded.first_seen_block, block_hash = excluded.block_hash, "
    "src_offset = excluded.src_offset "
    "WHERE (coalesce(excluded.first_seen_block, -1), excluded.first_seen_at) < "
    "(coalesce(user_evidence.first_seen_block, -1), user_evidence.first_seen_at)",
    _earliest,
)
BURN_EVIDENCE = TableSpec(
    "emergency_burn_evidence",
    (
        ("burn_key", "text"),
        ("user_address", "text"),
        ("burned_sats", "numeric"),
        ("reason", "text"),
        ("tx_hash", "text"),
        ("block_number", "bigint"),
        ("occurred_at", "timestamptz"),
        *EVIDENCE_SOURCE,
    ),
    ("burn_key", "source", "src_topic", "src_partition"),
    # The first report of each partition (a partition's order is the same live and replayed).
    "DO NOTHING",
)

RECOMPUTE_USERS = """
WITH first AS (
    SELECT DISTINCT ON (address) address, source, first_seen_block, first_seen_at,
           src_topic, src_partition, src_offset
    FROM user_evidence WHERE address = ANY($1::text[])
    ORDER BY address, first_seen_at, source, coalesce(first_seen_block, -1), src_topic,
             src_partition
), flags AS (
    SELECT address, bool_or(source = 'chain') AS on_chain, bool_or(source = 'oracle') AS oracle
    FROM user_evidence WHERE address = ANY($1::text[]) GROUP BY address
)
INSERT INTO users AS u (address, first_seen_source, first_seen_block, first_seen_at,
    seen_on_chain, known_to_oracle, src_topic, src_partition, src_offset)
SELECT f.address, f.source, f.first_seen_block, f.first_seen_at, g.on_chain, g.oracle,
       f.src_topic, f.src_partition, f.src_offset
FROM first f JOIN flags g USING (address)
ON CONFLICT (address) DO UPDATE SET first_seen_source = excluded.first_seen_source,
    first_seen_block = excluded.first_seen_block, first_seen_at = excluded.first_seen_at,
    seen_on_chain = excluded.seen_on_chain, known_to_oracle = excluded.known_to_oracle,
    src_topic = excluded.src_topic, src_partition = excluded.src_partition,
    src_offset = excluded.src_offset
WHERE (u.first_seen_source, u.first_seen_block, u.first_seen_at, u.seen_on_chain,
       u.known_to_oracle, u.src_topic, u.src_partition, u.src_offset)
    IS DISTINCT FROM (excluded.first_seen_source, excluded.first_seen_block,
       excluded.first_seen_at, excluded.seen_on_chain, excluded.known_to_oracle,
       excluded.src_topic, excluded.src_partition, excluded.src_offset)
"""
# The chain's report wins ('chain' sorts first); among the oracle's, the earliest.
RECOMPUTE_BURNS = """
WITH first AS (
    SELECT DISTINCT ON (burn_key) burn_key, user_address, burned_sats, reason, tx_hash,
           block_number, block_hash, occurred_at, src_topic, src_partition, src_offset
    FROM emergency_burn_evidence WHERE burn_key = ANY($1::text[])
    ORDER BY burn_key, source, occurred_at, burned_sats, reason, src_topic, src_partition
), flags AS (
    SELECT burn_key, bool_or(source = 'chain') AS on_chain,
           bool_or(source = 'oracle') AS oracle, min(tx_hash) AS any_tx
    FROM emergency_burn_evidence WHERE burn_key = ANY($1::text[]) GROUP BY burn_key
)
INSERT INTO emergency_burns AS b (burn_key, user_address, burned_sats, reason, tx_hash,
    block_number, block_hash, occurred_at, seen_on_chain, reported_by_oracle, src_topic,
    src_partition, src_offset)
SELECT f.burn_key, f.user_address, f.burned_sats, f.reason, coalesce(f.tx_hash, g.any_tx),
       f.block_number, f.block_hash, f.occurred_at, g.on_chain, g.oracle, f.src_topic,
       f.src_partition, f.src_offset
FROM first f JOIN flags g USING (burn_key)
ON CONFLICT (burn_key) DO UPDATE SET user_address = excluded.user_address,
    burned_sats = excluded.burned_sats, reason = excluded.reason, tx_hash = excluded.tx_hash,
    block_number = excluded.block_number, block_hash = excluded.block_hash,
    occurred_at = excluded.occurred_at, seen_on_chain = excluded.seen_on_chain,
    reported_by_oracle = excluded.reported_by_oracle, src_topic = excluded.src_topic,
    src_partition = excluded.src_partition, src_offset = excluded.src_offset
WHERE (b.user_address, b.burned_sats, b.reason, b.tx_hash, b.block_number, b.block_hash,
       b.occurred_at, b.seen_on_chain, b.reported_by_oracle, b.src_topic, b.src_partition,
       b.src_offset)
    IS DISTINCT FROM (excluded.user_address, excluded.burned_sats, excluded.reason,
       excluded.tx_hash, excluded.block_number, excluded.block_hash, excluded.occurred_at,
       excluded.seen_on_chain, excluded.reported_by_oracle, excluded.src_topic,
       excluded.src_partition, excluded.src_offset)
"""
LOCK = (
    "SELECT pg_advisory_xact_lock(hashtextextended($1 || k, 0)) "
    "FROM (SELECT unnest($2::text[]) AS k ORDER BY 1) AS keys"
)


class Merged:
    """One merged table and its evidence."""

    def __init__(self, table: str, key: str, evidence: TableSpec, recompute: str) -> None:
        self.table = table
        self.key = key
        self.evidence = evidence
        self.recompute_sql = recompute

    async def add(self, connection: asyncpg.Connection, rows: Sequence[Row]) -> set[str]:
        """Store evidence; returns the facts whose evidence changed."""
        if not rows:
            return set()
        spec = self.evidence
        names = ", ".join(c for c, _ in spec.columns)
        arrays = ", ".join(f"${i}::{t}[]" for i, (_, t) in enumerate(spec.columns, start=1))
        # Built from the constant specs above, never from input.
        query = (
            f"INSERT INTO {spec.name} ({names}) SELECT * FROM unnest({arrays}) "  # noqa: S608
            f"ON CONFLICT ({', '.join(spec.key)}) {spec.on_conflict} RETURNING {self.key}"
        )
        records = await connection.fetch(query, *spec.arrays(spec.deduplicated(rows)))
        return {r[self.key] for r in records}

    async def remove_orphaned(
        self, connection: asyncpg.Connection, topic: str, partition: int, hashes: Sequence[str]
    ) -> set[str]:
        """Delete the chain evidence of a partition's orphaned blocks; returns its facts."""
        records = await connection.fetch(
            f"DELETE FROM {self.evidence.name} WHERE source = 'chain' "  # noqa: S608
            f"AND src_topic = $1 AND src_partition = $2 AND block_hash = ANY($3::text[]) "
            f"RETURNING {self.key}",
            topic,
            partition,
            list(hashes),
        )
        return {r[self.key] for r in records}

    async def recompute(self, connection: asyncpg.Connection, keys: Collection[str]) -> Tally:
        """Bring the merged rows of `keys` in line with their evidence; returns the counters'
        change (a row moved to another source partition counts there)."""
        if not keys:
            return Counter()
        ordered = sorted(keys)
        # Two writers (say, of a chain and of an oracle partition) may add evidence of one
        # fact at once: each recomputes only once the other has committed, so the second
        # reads both (a statement under READ COMMITTED sees what committed before it began).
        await connection.execute(LOCK, f"{self.table}:", ordered)
        provenance = (
            f"SELECT src_topic, src_partition FROM {self.table} "  # noqa: S608
            f"WHERE {self.key} = ANY($1::text[])"
        )
        tally: Tally = Counter()
        for r in await connection.fetch(provenance, ordered):
            tally[(self.table, r["src_topic"], r["src_partition"])] -= 1
        await connection.execute(self.recompute_sql, ordered)
        await connection.execute(
            f"DELETE FROM {self.table} t WHERE t.{self.key} = ANY($1::text[]) "  # noqa: S608
            f"AND NOT EXISTS (SELECT 1 FROM {self.evidence.name} e "
            f"WHERE e.{self.key} = t.{self.key})",
            ordered,
        )
        for r in await connection.fetch(provenance, ordered):
            tally[(self.table, r["src_topic"], r["src_partition"])] += 1
        return Counter({k: n for k, n in tally.items() if n})


USERS = Merged("users", "address", USER_EVIDENCE, RECOMPUTE_USERS)
EMERGENCY_BURNS = Merged("emergency_burns", "burn_key", BURN_EVIDENCE, RECOMPUTE_BURNS)
MERGED = (USERS, EMERGENCY_BURNS)
