"""The oracle-logger's shared memory: which operation ids it accepted with which content, and
which request signatures were used, so every replica (and every restart) answers alike.

- `oracle_intake`: one row per accepted `operation_id` with the SHA-256 of the published
  value. A replica records the row (INSERT ... ON CONFLICT DO NOTHING) in the same transaction
  that compares the digests of ids already there, before publishing: other content for a
  known id is a 409 on every replica. `published_at` is set once Kafka acknowledged; a row
  without it (a crash between recording and the acknowledgement) makes an identical retry
  publish again instead of being answered "already accepted".
- `oracle_used_signatures`: each HMAC signature once while its timestamp is inside the skew
  window (`expires_at`); expired rows are pruned by the oracle-logger.

`rs_oracle_logger` gets exactly these two tables (no DDL, no other table).

Revision ID: 0010
Revises: 0009
"""

from reservesync.db.migrations.script import run_script

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

TABLES = """
CREATE TABLE oracle_intake (
    operation_id text PRIMARY KEY CHECK (length(operation_id) BETWEEN 1 AND 200),
    content_digest text NOT NULL CHECK (content_digest ~ '^[0-9a-f]{64}$'),
    oracle_id text NOT NULL,
    first_seen timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz
);
CREATE INDEX oracle_intake_first_seen_idx ON oracle_intake (first_seen);
CREATE TABLE oracle_used_signatures (
    signature text PRIMARY KEY,
    expires_at timestamptz NOT NULL
);
CREATE INDEX oracle_used_signatures_expires_idx ON oracle_used_signatures (expires_at);
GRANT SELECT, INSERT, UPDATE, DELETE ON oracle_intake TO rs_oracle_logger;
GRANT SELECT, INSERT, DELETE ON oracle_used_signatures TO rs_oracle_logger;
"""


def upgrade() -> None:
    run_script(TABLES)


def downgrade() -> None:
    run_script("DROP TABLE oracle_used_signatures; DROP TABLE oracle_intake;")
