"""Exact token balances of every holder, and liabilities from the token's own supply.

`token_movements`: one row per side of every rBTC (RBTCSynth) and wrBTC (VaultWrBTC)
`Transfer` — the sender's `out`, the receiver's `in`; mints and burns are Transfers from and to
the zero address, whose side is not a holder and has no row. Keyed by the event and the side,
so writing an event twice changes nothing, and a reorg removes exactly the rows of the
orphaned event (the writer's removal by block hash, like every chain table). A balance is the
sum of a holder's movements: addition is order-free, so a replay that interleaves the
partitions differently gives the same balances. `user_address` is the holder (any address: a
user, the vault, anyone wrBTC was sent to), named as every per-user table names it so that
row-level security and the writer's reorg removal treat it as they treat the others.

`token_balances` (view): per holder, rBTC and wrBTC held, exact (numeric).

`proof_of_reserves` gains what the API now publishes: the wrBTC outstanding, the sum of the
synced balances, and the supply no synced balance backs (`unbacked_supply_sats`, a named
deficit). `total_rbtc_sats` is from now on the rBTC `totalSupply` (the sum of every holder's
rBTC, the vault's included), no longer the sum of synced balances. `api_record_reserves`
takes the new figures; `api_balances` also answers for holders who are not users.

Revision ID: 0008
Revises: 0007
"""

import importlib

from reservesync.db.migrations.script import run_script

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_API = importlib.import_module("reservesync.db.migrations.versions.0003_api")
_WIDENED = importlib.import_module("reservesync.db.migrations.versions.0005_abi_ranges")

ADDRESS = "~ '^0x[0-9a-f]{40}$'"
HASH = "~ '^0x[0-9a-f]{64}$'"

TABLE = f"""
CREATE TABLE token_movements (
    token text NOT NULL CHECK (token IN ('rBTC', 'wrBTC')),
    token_address text NOT NULL CHECK (token_address {ADDRESS}),
    user_address text NOT NULL CHECK (user_address {ADDRESS}),
    direction text NOT NULL CHECK (direction IN ('in', 'out')),
    counterparty text NOT NULL CHECK (counterparty {ADDRESS}),
    amount numeric(78, 0) NOT NULL CHECK (amount >= 0),
    chain_id bigint NOT NULL,
    tx_hash text NOT NULL CHECK (tx_hash {HASH}),
    log_index integer NOT NULL CHECK (log_index >= 0),
    block_number bigint NOT NULL CHECK (block_number >= 0),
    block_hash text NOT NULL CHECK (block_hash {HASH}),
    block_timestamp timestamptz NOT NULL,
    src_topic text NOT NULL,
    src_partition integer NOT NULL,
    src_offset bigint NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (chain_id, tx_hash, log_index, direction)
);
-- A holder's balance: one index range, no heap visit.
CREATE INDEX token_movements_holder_idx
    ON token_movements (user_address, token) INCLUDE (direction, amount, block_number);
CREATE INDEX token_movements_block_hash_idx ON token_movements (block_hash);

CREATE VIEW token_balances WITH (security_invoker = true) AS
SELECT user_address,
       coalesce(sum(CASE direction WHEN 'in' THEN amount ELSE -amount END)
                FILTER (WHERE token = 'rBTC'), 0) AS rbtc_sats,
       coalesce(sum(CASE direction WHEN 'in' THEN amount ELSE -amount END)
                FILTER (WHERE token = 'wrBTC'), 0) AS wrbtc_sats,
       max(block_number) AS last_block
FROM token_movements
GROUP BY user_address;

GRANT SELECT, INSERT, UPDATE, DELETE ON token_movements TO rs_writer;
GRANT SELECT ON token_movements, token_balances TO rs_api;
ALTER TABLE token_movements ENABLE ROW LEVEL SECURITY;
CREATE POLICY writer_all ON token_movements TO rs_writer USING (true) WITH CHECK (true);
CREATE POLICY api_per_user ON token_movements FOR SELECT TO rs_api USING (
    current_setting('reservesync.user', true) = '*' OR
    user_address = current_setting('reservesync.user', true));

ALTER TABLE proof_of_reserves
    ADD COLUMN wrbtc_outstanding_sats numeric(78, 0) CHECK (wrbtc_outstanding_sats >= 0),
    ADD COLUMN synced_sats numeric(78, 0) CHECK (synced_sats >= 0),
    ADD COLUMN unbacked_supply_sats numeric(78, 0) CHECK (unbacked_supply_sats >= 0);
"""

# Amounts are `numeric` since 0005: a total of uint64 balances does not fit in 8 bytes.
OLD_RECORD_SIGNATURE = "api_record_reserves(numeric, numeric, integer, text, timestamptz)"
RECORD_SIGNATURE = (
    "api_record_reserves(numeric, numeric, integer, text, timestamptz, numeric, numeric, numeric)"
)
RECORD = f"""
DROP FUNCTION {OLD_RECORD_SIGNATURE};
CREATE FUNCTION api_record_reserves(
    p_rbtc numeric, p_btc numeric, p_users integer, p_root text, p_as_of timestamptz,
    p_wrbtc numeric, p_synced numeric, p_unbacked numeric
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
            newest.unbacked_supply_sats)
           IS NOT DISTINCT FROM (p_rbtc, p_btc, p_users, p_root, p_wrbtc, p_synced, p_unbacked)
        THEN
            RETURN newest.id;
        END IF;
        IF p_as_of <= newest.as_of THEN
            RETURN NULL;
        END IF;
    END IF;
    INSERT INTO proof_of_reserves (total_rbtc_sats, total_btc_sats, users_count, merkle_root,
                                   as_of, wrbtc_outstanding_sats, synced_sats,
                                   unbacked_supply_sats)
    VALUES (p_rbtc, p_btc, p_users, p_root, p_as_of, p_wrbtc, p_synced, p_unbacked)
    RETURNING id INTO recorded;
    RETURN recorded;
END
$$;
REVOKE ALL ON FUNCTION {RECORD_SIGNATURE} FROM PUBLIC;
GRANT EXECUTE ON FUNCTION {RECORD_SIGNATURE} TO rs_api;
"""

# The newest synced balance of the address (if it is a user), the wrap movements it made, and
# the rBTC and wrBTC it holds; `known_user`/`holder` say whether the address is known at all.
BALANCES = (
    "api_balances",
    "p_user text",
    """known_user boolean, holder boolean, new_sats numeric, block_number bigint,
    block_timestamp timestamptz, tx_hash text, wrapped numeric, redeemed numeric,
    slashed numeric, rbtc_sats numeric, wrbtc_sats numeric, tokens_block bigint,
    writer_last_commit_at timestamptz""",
    "p_user",
    f"""
    SELECT EXISTS (SELECT 1 FROM users u WHERE u.address = p_user), h.movements > 0,
           l.new_sats, l.block_number, l.block_timestamp, l.tx_hash,
           w.wrapped, w.redeemed, w.slashed, h.rbtc_sats, h.wrbtc_sats, h.last_block,
           (SELECT max(o.updated_at) FROM sink_offsets o)
    FROM (SELECT 1) AS one
    LEFT JOIN LATERAL ({_API._LATEST_BALANCE}) l ON true
    LEFT JOIN LATERAL (
        SELECT coalesce(sum(t.amount) FILTER (WHERE t.tx_type = 'WRAP'), 0) AS wrapped,
               coalesce(sum(t.amount) FILTER (WHERE t.tx_type = 'REDEEM'), 0) AS redeemed,
               coalesce(sum(t.amount) FILTER (WHERE t.tx_type = 'SLASH'), 0) AS slashed
        FROM transactions t
        WHERE t.user_address = p_user AND t.tx_type IN ('WRAP', 'REDEEM', 'SLASH')
    ) w ON true
    LEFT JOIN LATERAL (
        SELECT count(*) AS movements,
               coalesce(sum(CASE m.direction WHEN 'in' THEN m.amount ELSE -m.amount END)
                        FILTER (WHERE m.token = 'rBTC'), 0) AS rbtc_sats,
               coalesce(sum(CASE m.direction WHEN 'in' THEN m.amount ELSE -m.amount END)
                        FILTER (WHERE m.token = 'wrBTC'), 0) AS wrbtc_sats,
               max(m.block_number) AS last_block
        FROM token_movements m WHERE m.user_address = p_user
    ) h ON true""",
)
OLD_BALANCES = _API.READS[0]


def _drop_read(name: str, arguments: str) -> str:
    return f"DROP FUNCTION {name}({_API._types(arguments)});"


def upgrade() -> None:
    run_script(
        TABLE
        + RECORD
        + _drop_read(OLD_BALANCES[0], OLD_BALANCES[1])
        + _API._read_function(*BALANCES)
    )


def downgrade() -> None:
    run_script(
        _drop_read(BALANCES[0], BALANCES[1])
        + _WIDENED._functions(_WIDENED.WIDE, only=(BALANCES[0],))
        + f"DROP FUNCTION {RECORD_SIGNATURE};"
        + _WIDENED.RECORD_RESERVES.format(amount=_WIDENED.WIDE)
        + "ALTER TABLE proof_of_reserves DROP COLUMN wrbtc_outstanding_sats, "
        "DROP COLUMN synced_sats, DROP COLUMN unbacked_supply_sats;"
        "DROP VIEW token_balances; DROP TABLE token_movements;"
    )
