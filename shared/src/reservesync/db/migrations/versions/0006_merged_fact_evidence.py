"""Evidence of merged facts, kept per source, so that a reorg takes back exactly the chain's part.

A user and an emergency burn are each one row however many sources report them (`users`,
`emergency_burns`). Those rows are now derived, like `yield_scales_participants`: the writer
keeps each source's evidence in its own row, keyed by the fact and by the topic and partition
that reported it, and recomputes the merged row from the evidence of the keys a batch touched.
A reorg notice deletes the chain evidence of the orphaned blocks and recomputes: a burn the
oracle also reported keeps the oracle's part, a user known only from orphaned blocks goes.

Existing merged rows are split into evidence as well as they can be told apart: a side that
first saw the fact gives its sighting, the other side (when its flag is set) the same values.

Revision ID: 0006
Revises: 0004
"""

from reservesync.db.migrations.script import run_script

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

ADDRESS = "~ '^0x[0-9a-f]{40}$'"
HASH = "~ '^0x[0-9a-f]{64}$'"
EVIDENCE_PROVENANCE = f"""
    source text NOT NULL CHECK (source IN ('chain', 'oracle')),
    src_topic text NOT NULL,
    src_partition integer NOT NULL,
    src_offset bigint NOT NULL,
    block_hash text CHECK (block_hash {HASH}),
    created_at timestamptz NOT NULL DEFAULT now()"""

TABLES = f"""
-- Per source partition, the earliest sighting of a user: on chain the lowest block (whose hash
-- a reorg may orphan; every later sighting of that partition is then orphaned too), at the
-- oracle the earliest time.
CREATE TABLE user_evidence (
    address text NOT NULL CHECK (address {ADDRESS}),
    first_seen_at timestamptz NOT NULL,
    first_seen_block bigint CHECK (first_seen_block >= 0),
    {EVIDENCE_PROVENANCE},
    PRIMARY KEY (address, source, src_topic, src_partition),
    CHECK ((source = 'chain') = (first_seen_block IS NOT NULL))
);
CREATE INDEX user_evidence_orphans_idx ON user_evidence (src_topic, src_partition, block_hash)
    WHERE source = 'chain';

-- Per source partition, the first report of an emergency burn (the chain's EmergencyBurn, the
-- oracle's operation or state).
CREATE TABLE emergency_burn_evidence (
    burn_key text NOT NULL,
    user_address text NOT NULL CHECK (user_address {ADDRESS}),
    burned_sats numeric(78, 0) NOT NULL CHECK (burned_sats >= 0),
    reason text NOT NULL,
    tx_hash text CHECK (tx_hash {HASH}),
    block_number bigint CHECK (block_number >= 0),
    occurred_at timestamptz NOT NULL,
    {EVIDENCE_PROVENANCE},
    PRIMARY KEY (burn_key, source, src_topic, src_partition)
);
CREATE INDEX emergency_burn_evidence_orphans_idx
    ON emergency_burn_evidence (src_topic, src_partition, block_hash) WHERE source = 'chain';
"""

BACKFILL = """
INSERT INTO user_evidence (address, first_seen_at, first_seen_block, source, src_topic,
    src_partition, src_offset, block_hash)
SELECT u.address, s.at, s.block, 'chain', coalesce(t.src_topic, u.src_topic),
       coalesce(t.src_partition, u.src_partition), coalesce(t.src_offset, u.src_offset),
       CASE WHEN t.block_number = s.block THEN t.block_hash END
FROM users u
LEFT JOIN LATERAL (
    SELECT block_timestamp, block_number, block_hash, src_topic, src_partition, src_offset
    FROM transactions x WHERE x.user_address = u.address
    ORDER BY block_number, log_index LIMIT 1
) t ON true
CROSS JOIN LATERAL (
    SELECT CASE WHEN u.first_seen_source = 'chain' OR t.block_number IS NULL
                THEN u.first_seen_at ELSE t.block_timestamp END AS at,
           CASE WHEN u.first_seen_source = 'chain' OR t.block_number IS NULL
                THEN coalesce(u.first_seen_block, 0) ELSE t.block_number END AS block
) s
WHERE u.seen_on_chain;
INSERT INTO user_evidence (address, first_seen_at, first_seen_block, source, src_topic,
    src_partition, src_offset, block_hash)
SELECT address, first_seen_at, NULL, 'oracle', src_topic, src_partition, src_offset, NULL
FROM users WHERE known_to_oracle;
INSERT INTO emergency_burn_evidence (burn_key, user_address, burned_sats, reason, tx_hash,
    block_number, occurred_at, source, src_topic, src_partition, src_offset, block_hash)
SELECT burn_key, user_address, burned_sats, reason, tx_hash, block_number, occurred_at,
       'chain', src_topic, src_partition, src_offset, block_hash
FROM emergency_burns WHERE seen_on_chain;
INSERT INTO emergency_burn_evidence (burn_key, user_address, burned_sats, reason, tx_hash,
    block_number, occurred_at, source, src_topic, src_partition, src_offset, block_hash)
SELECT burn_key, user_address, burned_sats, reason, tx_hash, block_number, occurred_at,
       'oracle', src_topic, src_partition, src_offset, NULL
FROM emergency_burns WHERE reported_by_oracle;
"""

# Only the writer reads or writes evidence; readers see the merged rows.
GRANTS = """
GRANT SELECT, INSERT, UPDATE, DELETE ON user_evidence, emergency_burn_evidence TO rs_writer;
"""


def upgrade() -> None:
    run_script(TABLES + BACKFILL + GRANTS)


def downgrade() -> None:
    run_script("DROP TABLE emergency_burn_evidence, user_evidence;")
