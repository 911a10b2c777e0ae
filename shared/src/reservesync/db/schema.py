"""Tables the services share. Alembic migrations create them; this module names them for code.

Every row written from Kafka carries its provenance (`src_topic`, `src_partition`,
`src_offset`), so any row can say which message made it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    Numeric,
    PrimaryKeyConstraint,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)

metadata = MetaData()

ADDRESS_CHECK = "~ '^0x[0-9a-f]{40}$'"
HASH_CHECK = "~ '^0x[0-9a-f]{64}$'"
TRANSACTION_TYPES = (
    "MINT",
    "BURN",
    "EMERGENCY_BURN",
    "DEPOSIT",
    "FEE_SPENT",
    "WITHDRAW",
    "WRAP",
    "REDEEM",
    "SLASH",
    "YIELD_CLAIM",
)
Uint256 = Numeric(78, 0)


def provenance() -> list[Column[Any]]:
    return [
        Column("src_topic", Text, nullable=False),
        Column("src_partition", Integer, nullable=False),
        Column("src_offset", BigInteger, nullable=False),
    ]


users = Table(
    "users",
    metadata,
    Column("address", Text, primary_key=True),
    Column("first_seen_source", Text, nullable=False),
    Column("first_seen_block", BigInteger),
    Column("first_seen_at", DateTime(timezone=True), nullable=False),
    *provenance(),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint(f"address {ADDRESS_CHECK}", name="users_address_lowercase"),
    CheckConstraint("first_seen_source IN ('chain', 'oracle')", name="users_source_known"),
)

transactions = Table(
    "transactions",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("chain_id", BigInteger, nullable=False),
    Column("tx_hash", Text, nullable=False),
    Column("log_index", Integer, nullable=False),
    Column("block_number", BigInteger, nullable=False),
    Column("block_hash", Text, nullable=False),
    Column("block_timestamp", DateTime(timezone=True), nullable=False),
    Column("user_address", Text, nullable=False),
    Column("tx_type", Text, nullable=False),
    Column("amount", Uint256, nullable=False),
    Column("unit", Text, nullable=False),
    Column("balance_after_sats", BigInteger),
    Column("fee_wei", Uint256),
    Column("contract", Text, nullable=False),
    Column("event", Text, nullable=False),
    *provenance(),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    UniqueConstraint("chain_id", "tx_hash", "log_index", name="transactions_chain_tx_log_key"),
    CheckConstraint(f"tx_hash {HASH_CHECK}", name="transactions_tx_hash_lowercase"),
    CheckConstraint(f"block_hash {HASH_CHECK}", name="transactions_block_hash_lowercase"),
    CheckConstraint(f"user_address {ADDRESS_CHECK}", name="transactions_user_lowercase"),
    CheckConstraint(
        "tx_type IN (" + ", ".join(f"'{t}'" for t in TRANSACTION_TYPES) + ")",
        name="transactions_type_known",
    ),
    CheckConstraint("amount >= 0", name="transactions_amount_non_negative"),
    CheckConstraint("unit IN ('sats', 'wei')", name="transactions_unit_known"),
    Index(
        "transactions_user_time_idx",
        "user_address",
        text("block_number DESC"),
        text("log_index DESC"),
    ),
    Index("transactions_block_hash_idx", "block_hash"),
)

# Where each consumer group stands, committed in the same transaction as the rows it wrote:
# the database, not Kafka, is the source of truth for exactly-once.
sink_offsets = Table(
    "sink_offsets",
    metadata,
    Column("consumer_group", Text, nullable=False),
    Column("topic", Text, nullable=False),
    Column("partition", Integer, nullable=False),
    Column("next_offset", BigInteger, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("consumer_group", "topic", "partition"),
)

# Row counts kept by the writer in the same transaction as the rows, one row per table and
# source partition (partitions have one writer each, so these rows never contend); the health
# service sums them instead of running count(*) over big tables.
sink_counters = Table(
    "sink_counters",
    metadata,
    Column("table_name", Text, nullable=False),
    Column("src_topic", Text, nullable=False),
    Column("src_partition", Integer, nullable=False),
    Column("row_count", BigInteger, nullable=False),
    PrimaryKeyConstraint("table_name", "src_topic", "src_partition"),
    CheckConstraint("row_count >= 0", name="sink_counters_non_negative"),
)
