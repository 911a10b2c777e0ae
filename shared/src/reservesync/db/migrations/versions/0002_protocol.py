"""Every table and view of the seed, with the roles' rights and row-level security.

Facts from Kafka are append-only rows keyed by their natural key (or, where there is none, by
the message that made them); "current state" is derived from facts (views, or tables the
writer recomputes), so a replay of the topics rebuilds the same content.

Revision ID: 0002
Revises: 0001
"""

from reservesync.db.migrations.script import run_script

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

ADDRESS = "~ '^0x[0-9a-f]{40}$'"
HASH = "~ '^0x[0-9a-f]{64}$'"
PROVENANCE = """
    src_topic text NOT NULL,
    src_partition integer NOT NULL,
    src_offset bigint NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()"""
CHAIN_ORIGIN = """
    chain_id bigint NOT NULL,
    tx_hash text NOT NULL CHECK (tx_hash ~ '^0x[0-9a-f]{64}$'),
    log_index integer NOT NULL CHECK (log_index >= 0),
    block_number bigint NOT NULL CHECK (block_number >= 0),
    block_hash text NOT NULL CHECK (block_hash ~ '^0x[0-9a-f]{64}$'),
    block_timestamp timestamptz NOT NULL"""

TABLES = f"""
-- What the oracle says about each user (latest `oracle.user_state/v1` per user).
CREATE TABLE oracle_user_states (
    user_address text PRIMARY KEY CHECK (user_address {ADDRESS}),
    last_synced_sats bigint NOT NULL CHECK (last_synced_sats >= 0),
    last_sync_at timestamptz,
    registered_at timestamptz,
    operations_performed bigint NOT NULL CHECK (operations_performed >= 0),
    known_burns integer NOT NULL CHECK (known_burns >= 0),
    as_of timestamptz NOT NULL,
    {PROVENANCE}
);

CREATE TABLE bitcoin_addresses (
    id bigserial PRIMARY KEY,
    user_address text NOT NULL CHECK (user_address {ADDRESS}),
    address_ciphertext bytea NOT NULL,
    address_lookup bytea NOT NULL CHECK (length(address_lookup) = 32),
    key_id text NOT NULL,
    network text NOT NULL CHECK (network IN ('mainnet', 'testnet', 'signet', 'regtest')),
    verified_at timestamptz,
    monitoring boolean NOT NULL,
    {PROVENANCE},
    CONSTRAINT bitcoin_addresses_user_address_key UNIQUE (user_address, address_lookup)
);
CREATE INDEX bitcoin_addresses_lookup_idx ON bitcoin_addresses (address_lookup);

-- One row per balance the committee synced (90-day rolling, see retention.py).
CREATE TABLE balance_snapshots (
    id bigserial PRIMARY KEY,
    user_address text NOT NULL CHECK (user_address {ADDRESS}),
    balance_sats bigint NOT NULL CHECK (balance_sats >= 0),
    taken_at timestamptz NOT NULL,
    {CHAIN_ORIGIN},
    {PROVENANCE},
    CONSTRAINT balance_snapshots_chain_key UNIQUE (chain_id, tx_hash, log_index)
);
CREATE INDEX balance_snapshots_user_time_idx ON balance_snapshots (user_address, taken_at DESC);
CREATE INDEX balance_snapshots_taken_at_idx ON balance_snapshots (taken_at);

-- Every change of a user's synced balance, permanent.
CREATE TABLE balance_history (
    id bigserial PRIMARY KEY,
    user_address text NOT NULL CHECK (user_address {ADDRESS}),
    previous_sats bigint NOT NULL CHECK (previous_sats >= 0),
    new_sats bigint NOT NULL CHECK (new_sats >= 0),
    delta_sats bigint NOT NULL,
    fee_wei numeric(78, 0) NOT NULL CHECK (fee_wei >= 0),
    cause text NOT NULL CHECK (cause IN ('SYNC', 'EMERGENCY_BURN')),
    {CHAIN_ORIGIN},
    {PROVENANCE},
    CONSTRAINT balance_history_chain_key UNIQUE (chain_id, tx_hash, log_index),
    CONSTRAINT balance_history_delta_adds_up CHECK (new_sats = previous_sats + delta_sats)
);
CREATE INDEX balance_history_user_idx ON balance_history (user_address, block_number DESC, log_index DESC);

-- A burn is one row whoever reports it: the chain (EmergencyBurn) and/or the oracle's state.
CREATE TABLE emergency_burns (
    id bigserial PRIMARY KEY,
    burn_key text NOT NULL UNIQUE,
    user_address text NOT NULL CHECK (user_address {ADDRESS}),
    burned_sats bigint NOT NULL CHECK (burned_sats >= 0),
    reason text NOT NULL,
    tx_hash text CHECK (tx_hash {HASH}),
    block_number bigint CHECK (block_number >= 0),
    block_hash text CHECK (block_hash {HASH}),
    occurred_at timestamptz NOT NULL,
    seen_on_chain boolean NOT NULL DEFAULT false,
    reported_by_oracle boolean NOT NULL DEFAULT false,
    {PROVENANCE}
);
CREATE INDEX emergency_burns_user_idx ON emergency_burns (user_address, occurred_at DESC);

-- Dispute lifecycle facts: RAISED on chain (YieldScalesPool.BalanceDisputed), RESOLVED by the
-- oracle (DISPUTE_RESOLVED); the current status is the latest fact per user.
CREATE TABLE balance_disputes (
    id bigserial PRIMARY KEY,
    user_address text NOT NULL CHECK (user_address {ADDRESS}),
    kind text NOT NULL CHECK (kind IN ('RAISED', 'RESOLVED')),
    reported_balance numeric(78, 0) CHECK (reported_balance >= 0),
    oracle_balance numeric(78, 0) CHECK (oracle_balance >= 0),
    description_ciphertext bytea,
    key_id text,
    occurred_at timestamptz NOT NULL,
    tx_hash text CHECK (tx_hash {HASH}),
    block_hash text CHECK (block_hash {HASH}),
    operation_id text,
    {PROVENANCE},
    CONSTRAINT balance_disputes_source_key UNIQUE (src_topic, src_partition, src_offset)
);
CREATE INDEX balance_disputes_user_idx ON balance_disputes (user_address, occurred_at DESC);

CREATE TABLE oracle_operations_log (
    id bigserial PRIMARY KEY,
    operation_id text NOT NULL UNIQUE,
    action text NOT NULL CHECK (action IN ('SYNC', 'MINT', 'BURN', 'EMERGENCY_BURN',
        'NEEDS_TOPUP', 'USER_DISCOVERED', 'USER_REGISTERED', 'BTC_ADDRESS_VERIFIED',
        'BALANCE_CHECK', 'DISPUTE_RESOLVED')),
    user_address text NOT NULL CHECK (user_address {ADDRESS}),
    bitcoin_address_ciphertext bytea,
    bitcoin_address_lookup bytea,
    key_id text,
    amount_sats bigint CHECK (amount_sats >= 0),
    previous_sats bigint CHECK (previous_sats >= 0),
    tx_hash text CHECK (tx_hash {HASH}),
    block_number bigint CHECK (block_number >= 0),
    reason text,
    consensus_reached boolean NOT NULL,
    sources_used text[] NOT NULL,
    status text NOT NULL CHECK (status IN ('success', 'failed', 'skipped')),
    occurred_at timestamptz NOT NULL,
    oracle_id text NOT NULL,
    {PROVENANCE}
);
CREATE INDEX oracle_operations_log_user_idx ON oracle_operations_log (user_address, occurred_at DESC);
CREATE INDEX oracle_operations_log_time_idx ON oracle_operations_log (occurred_at);

CREATE TABLE system_contracts (
    chain_id bigint NOT NULL,
    name text NOT NULL CHECK (name IN ('OracleAggregator', 'RBTCSynth', 'VaultWrBTC',
        'FeeVault', 'FeePolicy', 'YieldScalesPool')),
    address text NOT NULL CHECK (address {ADDRESS}),
    deployed_block bigint NOT NULL CHECK (deployed_block >= 0),
    code_present boolean NOT NULL,
    observed_at timestamptz NOT NULL,
    {PROVENANCE},
    PRIMARY KEY (chain_id, name)
);

-- Every YieldScalesPool event, permanent; participants below are derived from it.
CREATE TABLE yield_operations_log (
    id bigserial PRIMARY KEY,
    operation text NOT NULL CHECK (operation IN ('JOINED', 'LEFT', 'YIELD_CALCULATED',
        'YIELD_CLAIMED', 'SCALES_UPDATED', 'EMERGENCY_BURN_TRIGGERED', 'BALANCE_DISPUTED')),
    user_address text CHECK (user_address {ADDRESS}),
    participant_type smallint CHECK (participant_type IN (0, 1)),
    amount numeric(78, 0) CHECK (amount >= 0),
    details jsonb NOT NULL DEFAULT '{{}}',
    {CHAIN_ORIGIN},
    {PROVENANCE},
    CONSTRAINT yield_operations_log_chain_key UNIQUE (chain_id, tx_hash, log_index)
);
CREATE INDEX yield_operations_log_user_idx ON yield_operations_log (user_address, block_number DESC, log_index DESC);

-- The latest JOINED/LEFT/EMERGENCY_BURN_TRIGGERED fact per user, recomputed by the writer.
CREATE TABLE yield_scales_participants (
    user_address text PRIMARY KEY CHECK (user_address {ADDRESS}),
    participant_type smallint NOT NULL CHECK (participant_type IN (0, 1)),
    amount numeric(78, 0) NOT NULL CHECK (amount >= 0),
    active boolean NOT NULL,
    joined_at timestamptz NOT NULL,
    left_at timestamptz,
    last_block bigint NOT NULL,
    last_log_index integer NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Reserve attestations: total rBTC the chain says against total BTC the oracle reports.
CREATE TABLE proof_of_reserves (
    id bigserial PRIMARY KEY,
    total_rbtc_sats bigint NOT NULL CHECK (total_rbtc_sats >= 0),
    total_btc_sats bigint NOT NULL CHECK (total_btc_sats >= 0),
    users_count integer NOT NULL CHECK (users_count >= 0),
    merkle_root text NOT NULL CHECK (merkle_root {HASH}),
    as_of timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Supporting tables of the original app (written by the app, not by the pipeline).
CREATE TABLE faucet_requests (
    id bigserial PRIMARY KEY,
    user_address text NOT NULL CHECK (user_address {ADDRESS}),
    amount_wei numeric(78, 0) NOT NULL CHECK (amount_wei >= 0),
    tx_hash text CHECK (tx_hash {HASH}),
    status text NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
    requested_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE submissions (
    id bigserial PRIMARY KEY,
    user_address text NOT NULL CHECK (user_address {ADDRESS}),
    kind text NOT NULL,
    payload jsonb NOT NULL DEFAULT '{{}}',
    submitted_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE referrals (
    id bigserial PRIMARY KEY,
    referrer_address text NOT NULL CHECK (referrer_address {ADDRESS}),
    referee_address text NOT NULL UNIQUE CHECK (referee_address {ADDRESS}),
    code text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CHECK (referrer_address <> referee_address)
);
CREATE TABLE referral_rewards (
    id bigserial PRIMARY KEY,
    referral_id bigint NOT NULL REFERENCES referrals (id),
    amount_sats bigint NOT NULL CHECK (amount_sats >= 0),
    paid_at timestamptz
);
CREATE TABLE payments (
    id bigserial PRIMARY KEY,
    user_address text NOT NULL CHECK (user_address {ADDRESS}),
    amount_wei numeric(78, 0) NOT NULL CHECK (amount_wei >= 0),
    tx_hash text CHECK (tx_hash {HASH}),
    purpose text NOT NULL,
    paid_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE subscription_payments (
    id bigserial PRIMARY KEY,
    payment_id bigint NOT NULL REFERENCES payments (id),
    plan text NOT NULL,
    period_start timestamptz NOT NULL,
    period_end timestamptz NOT NULL,
    CHECK (period_end > period_start)
);

-- Dead letters decided in a batch's transaction, published to the DLQ topic after it commits
-- (a transactional outbox: a letter is never lost, and never decided twice).
CREATE TABLE dlq_outbox (
    src_topic text NOT NULL,
    src_partition integer NOT NULL,
    src_offset bigint NOT NULL,
    letter jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (src_topic, src_partition, src_offset)
);

-- Users: which sides know them (the seed's missing user was known to the oracle only).
ALTER TABLE users ADD COLUMN seen_on_chain boolean NOT NULL DEFAULT false;
ALTER TABLE users ADD COLUMN known_to_oracle boolean NOT NULL DEFAULT false;
UPDATE users SET seen_on_chain = (first_seen_source = 'chain'),
                 known_to_oracle = (first_seen_source = 'oracle');
"""

VIEWS = """
CREATE VIEW emergency_burn_summary WITH (security_invoker = true) AS
SELECT user_address,
       count(*) AS burns,
       sum(burned_sats) AS burned_sats,
       max(occurred_at) AS last_burn_at,
       count(*) FILTER (WHERE seen_on_chain) AS seen_on_chain,
       count(*) FILTER (WHERE reported_by_oracle) AS reported_by_oracle
FROM emergency_burns
GROUP BY user_address;

CREATE VIEW oracle_operations_stats WITH (security_invoker = true) AS
SELECT action,
       count(*) AS operations,
       count(*) FILTER (WHERE status = 'success') AS succeeded,
       count(*) FILTER (WHERE status = 'failed') AS failed,
       count(*) FILTER (WHERE status = 'skipped') AS skipped,
       round(100.0 * count(*) FILTER (WHERE status = 'success') / count(*), 1) AS success_pct,
       count(*) FILTER (WHERE consensus_reached) AS with_consensus,
       coalesce(sum(amount_sats), 0) AS amount_sats,
       min(occurred_at) AS first_at,
       max(occurred_at) AS last_at
FROM oracle_operations_log
GROUP BY action;

CREATE VIEW user_current_state WITH (security_invoker = true) AS
SELECT u.address AS user_address,
       u.seen_on_chain,
       u.known_to_oracle,
       coalesce(latest.new_sats, 0) AS balance_sats,
       latest.block_number AS balance_block,
       latest.block_timestamp AS balance_at,
       o.last_synced_sats AS oracle_sats,
       o.as_of AS oracle_as_of,
       (o.user_address IS NOT NULL AND coalesce(latest.new_sats, 0) = o.last_synced_sats)
           AS in_sync,
       coalesce(btc.verified, 0) AS bitcoin_addresses_verified,
       coalesce(btc.monitored, 0) AS bitcoin_addresses_monitored,
       coalesce(burns.burned_sats, 0) AS emergency_burned_sats
FROM users u
LEFT JOIN LATERAL (
    SELECT new_sats, block_number, block_timestamp FROM balance_history h
    WHERE h.user_address = u.address ORDER BY block_number DESC, log_index DESC LIMIT 1
) latest ON true
LEFT JOIN oracle_user_states o ON o.user_address = u.address
LEFT JOIN LATERAL (
    SELECT count(*) FILTER (WHERE verified_at IS NOT NULL) AS verified,
           count(*) FILTER (WHERE monitoring) AS monitored
    FROM bitcoin_addresses b WHERE b.user_address = u.address
) btc ON true
LEFT JOIN LATERAL (
    SELECT sum(burned_sats) AS burned_sats FROM emergency_burns e
    WHERE e.user_address = u.address
) burns ON true;
"""

# Per-user tables readable by the API only for the user named in the session setting
# `reservesync.user` (set per request), or by everyone when it is '*' (aggregate endpoints).
RLS_TABLES = (
    "transactions",
    "balance_history",
    "balance_snapshots",
    "emergency_burns",
    "balance_disputes",
    "bitcoin_addresses",
    "oracle_operations_log",
    "yield_operations_log",
    "yield_scales_participants",
    "oracle_user_states",
    "users",
)

WRITER_TABLES = (
    "users",
    "transactions",
    "oracle_user_states",
    "bitcoin_addresses",
    "balance_snapshots",
    "balance_history",
    "emergency_burns",
    "balance_disputes",
    "oracle_operations_log",
    "system_contracts",
    "yield_operations_log",
    "yield_scales_participants",
    "sink_offsets",
    "sink_counters",
    "dlq_outbox",
)


def _grants() -> str:
    writer = ", ".join(WRITER_TABLES)
    statements = [
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON {writer} TO rs_writer;",
        "GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO rs_writer;",
        "GRANT SELECT ON sink_offsets, sink_counters, system_contracts, oracle_user_states, "
        "users, emergency_burns, oracle_operations_log, yield_scales_participants "
        "TO rs_health;",
        "GRANT SELECT ON ALL TABLES IN SCHEMA public TO rs_api;",
        # Readers never see ciphertext columns at all: the API decrypts for the owner through
        # its own code path (column grants keep the rest of the table readable).
        "REVOKE SELECT ON bitcoin_addresses, oracle_operations_log, balance_disputes FROM rs_api;",
        "GRANT SELECT (id, user_address, address_lookup, key_id, network, verified_at, "
        "monitoring, created_at) ON bitcoin_addresses TO rs_api;",
        "GRANT SELECT (id, operation_id, action, user_address, amount_sats, previous_sats, "
        "tx_hash, block_number, reason, consensus_reached, sources_used, status, occurred_at, "
        "oracle_id) ON oracle_operations_log TO rs_api;",
        "GRANT SELECT (id, user_address, kind, reported_balance, oracle_balance, occurred_at, "
        "tx_hash, operation_id) ON balance_disputes TO rs_api;",
    ]
    for table in RLS_TABLES:
        column = "address" if table == "users" else "user_address"
        statements += [
            f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY;",
            f"CREATE POLICY writer_all ON {table} TO rs_writer USING (true) WITH CHECK (true);",
            f"CREATE POLICY health_all ON {table} TO rs_health USING (true);",
            f"CREATE POLICY api_per_user ON {table} FOR SELECT TO rs_api USING ("
            f"current_setting('reservesync.user', true) = '*' OR "
            f"{column} = current_setting('reservesync.user', true));",
        ]
    return "\n".join(statements)


def upgrade() -> None:
    run_script(TABLES + VIEWS + _grants())


def downgrade() -> None:
    run_script(
        "DROP VIEW user_current_state, oracle_operations_stats, emergency_burn_summary;"
        "DROP TABLE dlq_outbox, subscription_payments, payments, referral_rewards, referrals, submissions, "
        "faucet_requests, proof_of_reserves, yield_scales_participants, yield_operations_log, "
        "system_contracts, oracle_operations_log, balance_disputes, emergency_burns, "
        "balance_history, balance_snapshots, bitcoin_addresses, oracle_user_states;"
        "ALTER TABLE users DROP COLUMN seen_on_chain, DROP COLUMN known_to_oracle;"
    )
