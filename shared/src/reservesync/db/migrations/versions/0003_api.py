"""What the realtime API needs beyond the protocol schema: the owner's narrow path to their own
Bitcoin address ciphertexts, and indexes for its newest-first listings.

`rs_api` cannot select ciphertext columns at all (0002). To show a user their own Bitcoin
addresses after they proved ownership, the API calls `api_own_bitcoin_addresses`: a SECURITY
DEFINER function that returns the ciphertexts of exactly one user, and only of the user the
request's transaction named in `reservesync.user` (never `'*'`), so no API query can read the
ciphertexts of many users at once. Decryption happens in the API, which holds the key.

Revision ID: 0003
Revises: 0002
"""

from reservesync.db.migrations.script import run_script

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

UPGRADE = """
CREATE FUNCTION api_own_bitcoin_addresses(p_user text)
RETURNS TABLE (id bigint, address_ciphertext bytea, network text, verified_at timestamptz,
               monitoring boolean)
LANGUAGE sql STABLE SECURITY DEFINER
-- A definer's function must not resolve names through the caller's search_path.
SET search_path = pg_catalog, public
AS $$
    SELECT b.id, b.address_ciphertext, b.network, b.verified_at, b.monitoring
    FROM public.bitcoin_addresses b
    WHERE p_user ~ '^0x[0-9a-f]{40}$'
      AND p_user = current_setting('reservesync.user', true)
      AND b.user_address = p_user
    ORDER BY b.id
$$;
REVOKE ALL ON FUNCTION api_own_bitcoin_addresses(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api_own_bitcoin_addresses(text) TO rs_api;

-- Newest-first listings across all users (the aggregate endpoints) without sorting the table.
CREATE INDEX emergency_burns_time_idx ON emergency_burns (occurred_at DESC, id DESC);
CREATE INDEX balance_disputes_time_idx ON balance_disputes (occurred_at DESC, id DESC);
-- The pool's own facts (YieldCalculated, ScalesBalanceUpdated) name no user.
CREATE INDEX yield_operations_log_pool_idx
    ON yield_operations_log (operation, block_number DESC, log_index DESC)
    WHERE user_address IS NULL;
"""


def upgrade() -> None:
    run_script(UPGRADE)


def downgrade() -> None:
    run_script(
        "DROP INDEX yield_operations_log_pool_idx, balance_disputes_time_idx, "
        "emergency_burns_time_idx; DROP FUNCTION api_own_bitcoin_addresses(text);"
    )
