"""Core tables of the first slice: users, transactions, sink offsets and counters, with grants.

Revision ID: 0001
Revises:
"""

from reservesync.db.migrations.script import run_script

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

ADDRESS = "~ '^0x[0-9a-f]{40}$'"
HASH = "~ '^0x[0-9a-f]{64}$'"
PROVENANCE = """
    src_topic text NOT NULL,
    src_partition integer NOT NULL,
    src_offset bigint NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()"""


def upgrade() -> None:
    run_script(f"""
CREATE TABLE users (
    address text PRIMARY KEY,
    first_seen_source text NOT NULL,
    first_seen_block bigint,
    first_seen_at timestamptz NOT NULL,
    {PROVENANCE},
    CONSTRAINT users_address_lowercase CHECK (address {ADDRESS}),
    CONSTRAINT users_source_known CHECK (first_seen_source IN ('chain', 'oracle'))
);

CREATE TABLE transactions (
    id bigserial PRIMARY KEY,
    chain_id bigint NOT NULL,
    tx_hash text NOT NULL,
    log_index integer NOT NULL,
    block_number bigint NOT NULL,
    block_hash text NOT NULL,
    block_timestamp timestamptz NOT NULL,
    user_address text NOT NULL,
    tx_type text NOT NULL,
    amount numeric(78, 0) NOT NULL,
    unit text NOT NULL,
    balance_after_sats bigint,
    fee_wei numeric(78, 0),
    contract text NOT NULL,
    event text NOT NULL,
    {PROVENANCE},
    CONSTRAINT transactions_chain_tx_log_key UNIQUE (chain_id, tx_hash, log_index),
    CONSTRAINT transactions_tx_hash_lowercase CHECK (tx_hash {HASH}),
    CONSTRAINT transactions_block_hash_lowercase CHECK (block_hash {HASH}),
    CONSTRAINT transactions_user_lowercase CHECK (user_address {ADDRESS}),
    CONSTRAINT transactions_type_known CHECK (tx_type IN ('MINT', 'BURN', 'EMERGENCY_BURN',
        'DEPOSIT', 'FEE_SPENT', 'WITHDRAW', 'WRAP', 'REDEEM', 'SLASH', 'YIELD_CLAIM')),
    CONSTRAINT transactions_amount_non_negative CHECK (amount >= 0),
    CONSTRAINT transactions_unit_known CHECK (unit IN ('sats', 'wei'))
);
CREATE INDEX transactions_user_time_idx
    ON transactions (user_address, block_number DESC, log_index DESC);
CREATE INDEX transactions_block_hash_idx ON transactions (block_hash);

CREATE TABLE sink_offsets (
    consumer_group text NOT NULL,
    topic text NOT NULL,
    partition integer NOT NULL,
    next_offset bigint NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer_group, topic, partition)
);

CREATE TABLE sink_counters (
    table_name text NOT NULL,
    src_topic text NOT NULL,
    src_partition integer NOT NULL,
    row_count bigint NOT NULL,
    PRIMARY KEY (table_name, src_topic, src_partition),
    CONSTRAINT sink_counters_non_negative CHECK (row_count >= 0)
);

-- Least privilege: the writer writes rows but owns nothing, so it cannot run DDL; the readers
-- read. Sequences are needed for bigserial inserts.
GRANT USAGE ON SCHEMA public TO rs_writer, rs_health, rs_api;
GRANT SELECT, INSERT, UPDATE, DELETE
    ON users, transactions, sink_offsets, sink_counters TO rs_writer;
GRANT USAGE ON SEQUENCE transactions_id_seq TO rs_writer;
GRANT SELECT ON sink_offsets, sink_counters, users TO rs_health;
GRANT SELECT ON users, transactions TO rs_api;
""")


def downgrade() -> None:
    run_script("DROP TABLE sink_counters, sink_offsets, transactions, users")
