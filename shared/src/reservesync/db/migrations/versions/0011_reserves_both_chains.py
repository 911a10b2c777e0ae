"""Reserves from both chains: each published state records the instant on both chains (EVM
block B, Bitcoin height H), the BTC Bitcoin itself shows on the users' verified addresses, the
supply that BTC does not back, and the Merkle scheme.

`proof_of_reserves` gains `evm_block`, `btc_height`, `btc_held_sats` (from Bitcoin, through the
bitcoin-listener), `unbacked_by_btc_sats` (rBTC supply above `btc_held_sats`, a named deficit)
and `merkle_scheme`. `total_btc_sats` keeps its meaning (the BTC the oracle reports), so the
readers of older rows are not misled. `api_record_reserves` takes the new figures.

`api_reserves_bitcoin()` (SECURITY DEFINER, for `rs_api`): per user, the confirmed sats of
their verified Bitcoin addresses and the newest height among them. `rs_api` cannot read
`bitcoin_addresses` itself; this gives it the sums and nothing else. An address several users
claim counts once, for the one who verified it first.

Revision ID: 0011
Revises: 0010
"""

import importlib

from reservesync.db.migrations.script import run_script

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_PREVIOUS = importlib.import_module("reservesync.db.migrations.versions.0008_token_holders")

COLUMNS = """
ALTER TABLE proof_of_reserves
    ADD COLUMN evm_block bigint CHECK (evm_block >= 0),
    ADD COLUMN btc_height bigint CHECK (btc_height >= 0),
    ADD COLUMN btc_held_sats numeric(78, 0) CHECK (btc_held_sats >= 0),
    ADD COLUMN unbacked_by_btc_sats numeric(78, 0) CHECK (unbacked_by_btc_sats >= 0),
    ADD COLUMN merkle_scheme text;
"""

RECORD_SIGNATURE = (
    "api_record_reserves(numeric, numeric, integer, text, timestamptz, numeric, numeric, "
    "numeric, bigint, bigint, numeric, numeric, text)"
)
RECORD = f"""
DROP FUNCTION {_PREVIOUS.RECORD_SIGNATURE};
CREATE FUNCTION api_record_reserves(
    p_rbtc numeric, p_btc numeric, p_users integer, p_root text, p_as_of timestamptz,
    p_wrbtc numeric, p_synced numeric, p_unbacked numeric, p_evm_block bigint,
    p_btc_height bigint, p_btc_held numeric, p_unbacked_by_btc numeric, p_scheme text
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
            newest.merkle_root, newest.wrbtc_outstanding_sats, newest.synced_sats,
            newest.unbacked_supply_sats, newest.evm_block, newest.btc_height,
            newest.btc_held_sats, newest.unbacked_by_btc_sats, newest.merkle_scheme)
           IS NOT DISTINCT FROM (p_rbtc, p_btc, p_users, p_root, p_wrbtc, p_synced, p_unbacked,
                                 p_evm_block, p_btc_height, p_btc_held, p_unbacked_by_btc,
                                 p_scheme)
        THEN
            RETURN newest.id;
        END IF;
        IF p_as_of <= newest.as_of THEN
            RETURN NULL;
        END IF;
    END IF;
    INSERT INTO proof_of_reserves (total_rbtc_sats, total_btc_sats, users_count, merkle_root,
                                   as_of, wrbtc_outstanding_sats, synced_sats,
                                   unbacked_supply_sats, evm_block, btc_height, btc_held_sats,
                                   unbacked_by_btc_sats, merkle_scheme)
    VALUES (p_rbtc, p_btc, p_users, p_root, p_as_of, p_wrbtc, p_synced, p_unbacked,
            p_evm_block, p_btc_height, p_btc_held, p_unbacked_by_btc, p_scheme)
    RETURNING id INTO recorded;
    RETURN recorded;
END
$$;
REVOKE ALL ON FUNCTION {RECORD_SIGNATURE} FROM PUBLIC;
GRANT EXECUTE ON FUNCTION {RECORD_SIGNATURE} TO rs_api;
"""

BITCOIN = """
CREATE FUNCTION api_reserves_bitcoin()
RETURNS TABLE (user_address text, btc_sats numeric, height bigint)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, public
AS $$
    SELECT claim.user_address, sum(b.confirmed_sats)::numeric, max(b.height)
    FROM (
        SELECT DISTINCT ON (a.address_lookup) a.address_lookup, a.user_address
        FROM public.bitcoin_addresses a
        WHERE a.verified_at IS NOT NULL
        ORDER BY a.address_lookup, a.verified_at, a.user_address
    ) claim
    JOIN public.bitcoin_address_balances b USING (address_lookup)
    WHERE current_setting('reservesync.user', true) = '*'
    GROUP BY claim.user_address
$$;
REVOKE ALL ON FUNCTION api_reserves_bitcoin() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api_reserves_bitcoin() TO rs_api;
"""


def upgrade() -> None:
    run_script(COLUMNS + RECORD + BITCOIN)


def downgrade() -> None:
    run_script(
        "DROP FUNCTION api_reserves_bitcoin();"
        f"DROP FUNCTION {RECORD_SIGNATURE};"
        + _PREVIOUS.RECORD.replace(f"DROP FUNCTION {_PREVIOUS.OLD_RECORD_SIGNATURE};", "")
        + "ALTER TABLE proof_of_reserves DROP COLUMN evm_block, DROP COLUMN btc_height, "
        "DROP COLUMN btc_held_sats, DROP COLUMN unbacked_by_btc_sats, DROP COLUMN merkle_scheme;"
    )
