"""Reserve attestations: each distinct reserves state the API publishes, recorded once.

The API builds the Merkle sum tree over every user's balance and serves its root
(`/proof-of-reserves`); users check their leaf against that root. Recording each published
state in `proof_of_reserves` lets anyone look up later a root they were shown, and shows the
backing ratio over time.

`rs_api` stays read-only on every table. It may only call `api_record_reserves` (SECURITY
DEFINER), which appends a row when the state differs from the newest row. Replicas of the API
take the same advisory lock, so replicas publishing one state record it once; a snapshot read
before the newest row's `as_of` records nothing (it would rewrite history out of order).

`rs_health` reads the newest row, to alert when the reserves are not fully backed.

Revision ID: 0004
Revises: 0003
"""

from reservesync.db.migrations.script import run_script

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

RECORD = """
CREATE FUNCTION api_record_reserves(
    p_rbtc bigint, p_btc bigint, p_users integer, p_root text, p_as_of timestamptz
) RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
-- A definer's function must not resolve names through the caller's search_path.
SET search_path = pg_catalog, public
AS $$
DECLARE
    newest proof_of_reserves%ROWTYPE;
    recorded bigint;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('proof_of_reserves'));
    SELECT * INTO newest FROM proof_of_reserves ORDER BY id DESC LIMIT 1;
    IF FOUND THEN
        IF (newest.total_rbtc_sats, newest.total_btc_sats, newest.users_count,
            newest.merkle_root) = (p_rbtc, p_btc, p_users, p_root) THEN
            RETURN newest.id;
        END IF;
        IF p_as_of <= newest.as_of THEN
            RETURN NULL;
        END IF;
    END IF;
    INSERT INTO proof_of_reserves (total_rbtc_sats, total_btc_sats, users_count, merkle_root,
                                   as_of)
    VALUES (p_rbtc, p_btc, p_users, p_root, p_as_of)
    RETURNING id INTO recorded;
    RETURN recorded;
END
$$;
REVOKE ALL ON FUNCTION api_record_reserves(bigint, bigint, integer, text, timestamptz)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api_record_reserves(bigint, bigint, integer, text, timestamptz)
    TO rs_api;
CREATE INDEX proof_of_reserves_root_idx ON proof_of_reserves (merkle_root);
GRANT SELECT ON proof_of_reserves TO rs_health;
"""


def upgrade() -> None:
    run_script(RECORD)


def downgrade() -> None:
    run_script(
        "REVOKE SELECT ON proof_of_reserves FROM rs_health; "
        "DROP INDEX proof_of_reserves_root_idx; "
        "DROP FUNCTION api_record_reserves(bigint, bigint, integer, text, timestamptz);"
    )
