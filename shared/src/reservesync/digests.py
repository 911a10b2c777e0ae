"""Order-independent digests of what a table holds, defined once for both sides.

The health service proves content, not counts: for each scored table it keeps, per bucket, the
number of items and the sum of a 64-bit hash of each item's canonical content, once for the
world (computed by health from the chain's logs and the oracle's journal and state) and once
for the database (kept by triggers in the same transaction as the rows, whoever writes them:
the db-writer, a migration or a person with psql). A sum is order-independent and takes an
item back exactly (a reorg, a deletion), so equal (count, sum) per bucket means the same
multiset of contents with odds of a miss near 2⁻⁶⁴; a diverging bucket is then compared item
by item to name the key.

Transactions are bucketed by block range (`RANGE_BLOCKS`), so a divergence names the first
block range; the other tables by a hash of their key. The SQL below is the migration's and the
drill-down's; `tests/shared/test_digests.py` checks it against the Python on real rows.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from reservesync.ledger import Movement
from reservesync.messages import ChainEvent, OracleOperation

RANGE_BLOCKS = 1000
"""Blocks per transactions bucket: the granularity of "the first diverging block range"."""
HASH_BUCKETS = 64
"""Buckets of the key-hashed tables."""
TABLES = ("transactions", "emergency_burns", "users", "oracle_operations_log")


@dataclass(frozen=True)
class Item:
    table: str
    key: str
    content: str
    bucket: int

    @property
    def hash(self) -> int:
        return item_hash(self.content)


def item_hash(content: str) -> int:
    """The first 8 bytes of md5(content) as a signed 64-bit integer (what SQL's
    `('x' || left(md5(c), 16))::bit(64)::bigint` gives)."""
    return int.from_bytes(
        hashlib.md5(content.encode(), usedforsecurity=False).digest()[:8], "big", signed=True
    )


def key_bucket(key: str) -> int:
    return hashlib.md5(key.encode(), usedforsecurity=False).digest()[0] % HASH_BUCKETS


def block_bucket(block_number: int) -> int:
    return block_number // RANGE_BLOCKS


def transaction_item(event: ChainEvent, moved: Movement) -> Item:
    user = str(event.args["user"])
    content = f"{event.event_id}|{moved.tx_type}|{user}|{moved.amount}|{event.block_number}"
    return Item("transactions", event.event_id, content, block_bucket(event.block_number))


def user_item(address: str) -> Item:
    return Item("users", address, address, key_bucket(address))


def burn_item(burn_key: str, user: str, burned_sats: int) -> Item:
    return Item(
        "emergency_burns", burn_key, f"{burn_key}|{user}|{burned_sats}", key_bucket(burn_key)
    )


def operation_item(op: OracleOperation) -> Item:
    amount = "" if op.amount_sats is None else str(op.amount_sats)
    content = f"{op.operation_id}|{op.action.value}|{op.user_address}|{op.status.value}|{amount}"
    return Item("oracle_operations_log", op.operation_id, content, key_bucket(op.operation_id))


@dataclass
class Digest:
    n: int = 0
    total: int = 0

    def add(self, item_hash_value: int, sign: int = 1) -> None:
        self.n += sign
        self.total += sign * item_hash_value


# -- the same, in SQL over a row `r` of each table ----------------------------------------------


def _hash_sql(expression: str) -> str:
    return f"('x' || left(md5({expression}), 16))::bit(64)::bigint"


def _key_bucket_sql(expression: str) -> str:
    return f"(get_byte(decode(md5({expression}), 'hex'), 0) % {HASH_BUCKETS})"


@dataclass(frozen=True)
class TableSql:
    key: str
    content: str
    bucket: str

    @property
    def hash(self) -> str:
        return _hash_sql(self.content)


SQL: dict[str, TableSql] = {
    "transactions": TableSql(
        key="r.chain_id || ':' || r.tx_hash || ':' || r.log_index",
        content="r.chain_id || ':' || r.tx_hash || ':' || r.log_index || '|' || r.tx_type "
        "|| '|' || r.user_address || '|' || r.amount::text || '|' || r.block_number",
        bucket=f"(r.block_number / {RANGE_BLOCKS})",
    ),
    "emergency_burns": TableSql(
        key="r.burn_key",
        content="r.burn_key || '|' || r.user_address || '|' || r.burned_sats",
        bucket=_key_bucket_sql("r.burn_key"),
    ),
    "users": TableSql(key="r.address", content="r.address", bucket=_key_bucket_sql("r.address")),
    "oracle_operations_log": TableSql(
        key="r.operation_id",
        content="r.operation_id || '|' || r.action || '|' || r.user_address || '|' || r.status "
        "|| '|' || coalesce(r.amount_sats::text, '')",
        bucket=_key_bucket_sql("r.operation_id"),
    ),
}
