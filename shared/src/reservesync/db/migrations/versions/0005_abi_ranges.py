"""Columns that hold every value the contracts' ABI types allow, and the writer's claims on
idempotency keys.

A buggy oracle call can put any uint64 on chain as a balance (`Synced.newBalanceSats`), and
`EmergencyBurn.burnedAmount` is a uint256: `bigint` held neither, and the one record that
overflowed it stopped the db-writer. Balances become `numeric(20, 0)` bounded to uint64 (a
previous balance, new − delta, can exceed uint64 by up to 2^63: still 20 digits), burned
amounts and the reserves totals `numeric(78, 0)`. The views and the API's functions over
these columns are recreated with the new types; the API's per-user balance stays 8 bytes in
the Merkle leaves (see `realtime_api.storage.aggregates`).

`message_digests`: per source topic, each idempotency key the db-writer wrote (a chain event's
`event_id`, an operation's `operation_id`) with the SHA-256 of its content, so a second
message with the same key and other content is told from an identical copy (see
`db_writer.duplicates`). Only `rs_writer` reads and writes it. Claims start empty: a
message written before this migration and repeated after it is not compared (its rows stay
as they were). Downgrading refuses while a stored value exceeds a bigint.

Revision ID: 0005
Revises: 0004
"""

import importlib

from reservesync.db.migrations.script import run_script

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

UINT64_MAX = 2**64 - 1
# The API functions whose result columns carry a widened column, by (name, argument types).
WIDENED_READS = (
    "api_balances",
    "api_transactions",
    "api_user_burns",
    "api_recent_burns",
    "api_sync_status",
)
NARROW, WIDE = "bigint", "numeric"
WIDENED_RESULTS = ("new_sats", "balance_after_sats", "burned_sats")

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

GRANT SELECT ON emergency_burn_summary, user_current_state TO rs_api;
"""

RECORD_RESERVES = """
CREATE FUNCTION api_record_reserves(
    p_rbtc {amount}, p_btc {amount}, p_users integer, p_root text, p_as_of timestamptz
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
REVOKE ALL ON FUNCTION api_record_reserves({amount}, {amount}, integer, text, timestamptz)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api_record_reserves({amount}, {amount}, integer, text, timestamptz)
    TO rs_api;
"""

WIDEN = f"""
ALTER TABLE transactions ALTER COLUMN balance_after_sats TYPE numeric(20, 0),
    ADD CONSTRAINT transactions_balance_after_uint64
        CHECK (balance_after_sats BETWEEN 0 AND {UINT64_MAX});
ALTER TABLE balance_history ALTER COLUMN previous_sats TYPE numeric(20, 0),
    ALTER COLUMN new_sats TYPE numeric(20, 0),
    ADD CONSTRAINT balance_history_new_uint64 CHECK (new_sats <= {UINT64_MAX});
ALTER TABLE balance_snapshots ALTER COLUMN balance_sats TYPE numeric(20, 0),
    ADD CONSTRAINT balance_snapshots_uint64 CHECK (balance_sats <= {UINT64_MAX});
ALTER TABLE emergency_burns ALTER COLUMN burned_sats TYPE numeric(78, 0);
ALTER TABLE proof_of_reserves ALTER COLUMN total_rbtc_sats TYPE numeric(78, 0),
    ALTER COLUMN total_btc_sats TYPE numeric(78, 0);
"""

NARROW_AGAIN = """
ALTER TABLE transactions DROP CONSTRAINT transactions_balance_after_uint64,
    ALTER COLUMN balance_after_sats TYPE bigint;
ALTER TABLE balance_history DROP CONSTRAINT balance_history_new_uint64,
    ALTER COLUMN previous_sats TYPE bigint, ALTER COLUMN new_sats TYPE bigint;
ALTER TABLE balance_snapshots DROP CONSTRAINT balance_snapshots_uint64,
    ALTER COLUMN balance_sats TYPE bigint;
ALTER TABLE emergency_burns ALTER COLUMN burned_sats TYPE bigint;
ALTER TABLE proof_of_reserves ALTER COLUMN total_rbtc_sats TYPE bigint,
    ALTER COLUMN total_btc_sats TYPE bigint;
"""

DIGESTS = """
CREATE TABLE message_digests (
    src_topic text NOT NULL,
    message_key text NOT NULL,
    digest bytea NOT NULL CHECK (length(digest) = 32),
    block_hash text,
    src_partition integer NOT NULL,
    src_offset bigint NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (src_topic, message_key)
);
-- A reorg notice removes its partition's claims of orphaned blocks.
CREATE INDEX message_digests_block_idx ON message_digests (src_topic, src_partition, block_hash)
    WHERE block_hash IS NOT NULL;
GRANT SELECT, INSERT, DELETE ON message_digests TO rs_writer;
"""


def _reads() -> list[tuple[str, str, str, str, str]]:
    api = importlib.import_module("reservesync.db.migrations.versions.0003_api")
    return [read for read in api.READS if read[0] in WIDENED_READS]


def _functions(result_type: str, only: tuple[str, ...] = WIDENED_READS) -> str:
    """The API reads of 0003 whose results carry a widened column, with `result_type`."""
    api = importlib.import_module("reservesync.db.migrations.versions.0003_api")
    script = ""
    for name, arguments, narrow_columns, user, query in _reads():
        if name not in only:
            continue
        columns = narrow_columns
        for column in WIDENED_RESULTS:
            columns = columns.replace(f"{column} {NARROW}", f"{column} {result_type}")
        script += api._read_function(name, arguments, columns, user, query)
    return script


def _drop_functions(amount: str) -> str:
    api = importlib.import_module("reservesync.db.migrations.versions.0003_api")
    reads = "".join(f"DROP FUNCTION {name}({api._types(args)});" for name, args, *_ in _reads())
    return (
        "DROP VIEW user_current_state, emergency_burn_summary;"
        + reads
        + f"DROP FUNCTION api_record_reserves({amount}, {amount}, integer, text, timestamptz);"
    )


def upgrade() -> None:
    run_script(
        _drop_functions(NARROW)
        + WIDEN
        + VIEWS
        + _functions(WIDE)
        + RECORD_RESERVES.format(amount=WIDE)
        + DIGESTS
    )


def downgrade() -> None:
    run_script(
        "DROP TABLE message_digests;"
        + _drop_functions(WIDE)
        + NARROW_AGAIN
        + VIEWS
        + _functions(NARROW)
        + RECORD_RESERVES.format(amount=NARROW)
    )
