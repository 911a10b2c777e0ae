"""The realtime API's reads, as functions that name their user, and what they need.

Row-level security (0002) shows `rs_api` a user's rows only when the setting
`reservesync.user` names that user (`'*'`: every row, for listings across users). Each
`api_*` function first sets it transaction-locally (set_config(..., true), i.e. SET LOCAL)
and then runs its one query, so a request is one statement in one implicit read-only
transaction: the setting cannot outlive it, no address is ever spliced into SQL text, and the
request costs one round trip instead of three (BEGIN + SET LOCAL, query, COMMIT). The
functions are SECURITY INVOKER: row-level security applies to them as to `rs_api` itself.

`rs_api` cannot select ciphertext columns at all (0002). To show a user their own Bitcoin
addresses after they proved ownership, `api_own_bitcoin_addresses` (SECURITY DEFINER) returns
the ciphertexts of exactly one user, and only of the user the transaction names (never `'*'`);
the API decrypts them, it holds the key.

Plus indexes for the newest-first listings across users.

Revision ID: 0003
Revises: 0002
"""

from reservesync.db.migrations.script import run_script

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# The newest balance_history row of a user: the latest synced sats, its block and time.
_LATEST_BALANCE = """
        SELECT h.new_sats, h.block_number, h.block_timestamp, h.tx_hash FROM balance_history h
        WHERE h.user_address = p_user ORDER BY h.block_number DESC, h.log_index DESC LIMIT 1"""
_BURN = """b.user_address, b.burned_sats, b.reason, b.tx_hash, b.block_number, b.occurred_at,
        b.seen_on_chain, b.reported_by_oracle"""
_BURN_TYPES = """user_address text, burned_sats bigint, reason text, tx_hash text,
    block_number bigint, occurred_at timestamptz, seen_on_chain boolean,
    reported_by_oracle boolean"""
_DISPUTE = """d.user_address, d.kind, d.reported_balance, d.oracle_balance, d.occurred_at,
        d.tx_hash, d.operation_id"""
_DISPUTE_TYPES = """user_address text, kind text, reported_balance numeric,
    oracle_balance numeric, occurred_at timestamptz, tx_hash text, operation_id text"""

# name, arguments, result columns, the user it reads as, its query
READS = (
    (
        "api_balances",
        "p_user text",
        """new_sats bigint, block_number bigint, block_timestamp timestamptz, tx_hash text,
    wrapped numeric, redeemed numeric, slashed numeric, writer_last_commit_at timestamptz""",
        "p_user",
        f"""
    SELECT l.new_sats, l.block_number, l.block_timestamp, l.tx_hash,
           w.wrapped, w.redeemed, w.slashed,
           (SELECT max(o.updated_at) FROM sink_offsets o)
    FROM users u
    LEFT JOIN LATERAL ({_LATEST_BALANCE}) l ON true
    LEFT JOIN LATERAL (
        SELECT coalesce(sum(t.amount) FILTER (WHERE t.tx_type = 'WRAP'), 0) AS wrapped,
               coalesce(sum(t.amount) FILTER (WHERE t.tx_type = 'REDEEM'), 0) AS redeemed,
               coalesce(sum(t.amount) FILTER (WHERE t.tx_type = 'SLASH'), 0) AS slashed
        FROM transactions t
        WHERE t.user_address = p_user AND t.tx_type IN ('WRAP', 'REDEEM', 'SLASH')
    ) w ON true
    WHERE u.address = p_user""",
    ),
    (
        "api_transactions",
        "p_user text, p_limit integer, p_offset integer",
        """chain_id bigint, tx_hash text, log_index integer, block_number bigint,
    block_timestamp timestamptz, tx_type text, amount numeric, unit text,
    balance_after_sats bigint, fee_wei numeric, contract text, event text""",
        "p_user",
        """
    SELECT t.chain_id, t.tx_hash, t.log_index, t.block_number, t.block_timestamp, t.tx_type,
           t.amount, t.unit, t.balance_after_sats, t.fee_wei, t.contract, t.event
    FROM transactions t WHERE t.user_address = p_user
    ORDER BY t.block_number DESC, t.log_index DESC LIMIT p_limit OFFSET p_offset""",
    ),
    # Totals and one page in one result: the totals row always comes back, the page's
    # columns are null when the page is empty.
    (
        "api_user_burns",
        "p_user text, p_limit integer, p_offset integer",
        f"""total_burns bigint, total_burned_sats numeric, seen_on_chain_count bigint,
    reported_by_oracle_count bigint, {_BURN_TYPES}""",
        "p_user",
        f"""
    SELECT s.total_burns, s.total_burned_sats, s.seen_on_chain_count,
           s.reported_by_oracle_count, p.*
    FROM (
        SELECT count(*) AS total_burns, coalesce(sum(b.burned_sats), 0) AS total_burned_sats,
               count(*) FILTER (WHERE b.seen_on_chain) AS seen_on_chain_count,
               count(*) FILTER (WHERE b.reported_by_oracle) AS reported_by_oracle_count
        FROM emergency_burns b WHERE b.user_address = p_user
    ) s
    LEFT JOIN LATERAL (
        SELECT {_BURN} FROM emergency_burns b WHERE b.user_address = p_user
        ORDER BY b.occurred_at DESC, b.id DESC LIMIT p_limit OFFSET p_offset
    ) p ON true""",
    ),
    (
        "api_recent_burns",
        "p_limit integer, p_offset integer",
        _BURN_TYPES,
        "'*'",
        f"""
    SELECT {_BURN} FROM emergency_burns b
    ORDER BY b.occurred_at DESC, b.id DESC LIMIT p_limit OFFSET p_offset""",
    ),
    (
        "api_yield_participant",
        "p_user text",
        """participant_type smallint, amount numeric, active boolean, joined_at timestamptz,
    left_at timestamptz, claims bigint, claimed numeric""",
        "p_user",
        """
    SELECT p.participant_type, p.amount, p.active, p.joined_at, p.left_at, c.claims, c.claimed
    FROM (SELECT count(*) AS claims, coalesce(sum(t.amount), 0) AS claimed
          FROM transactions t WHERE t.user_address = p_user AND t.tx_type = 'YIELD_CLAIM') c
    LEFT JOIN yield_scales_participants p ON p.user_address = p_user""",
    ),
    (
        "api_sync_status",
        "p_user text",
        """known boolean, new_sats bigint, block_number bigint, block_timestamp timestamptz,
    last_synced_sats bigint, last_sync_at timestamptz, registered_at timestamptz,
    as_of timestamptz""",
        "p_user",
        f"""
    SELECT EXISTS (SELECT 1 FROM users u WHERE u.address = p_user),
           l.new_sats, l.block_number, l.block_timestamp,
           o.last_synced_sats, o.last_sync_at, o.registered_at, o.as_of
    FROM (SELECT 1) AS one
    LEFT JOIN LATERAL ({_LATEST_BALANCE}) l ON true
    LEFT JOIN oracle_user_states o ON o.user_address = p_user""",
    ),
    (
        "api_user_disputes",
        "p_user text, p_limit integer, p_offset integer",
        f"raised bigint, resolved bigint, latest_kind text, {_DISPUTE_TYPES}",
        "p_user",
        f"""
    SELECT s.raised, s.resolved, s.latest_kind, p.*
    FROM (
        SELECT count(*) FILTER (WHERE d.kind = 'RAISED') AS raised,
               count(*) FILTER (WHERE d.kind = 'RESOLVED') AS resolved,
               (SELECT l.kind FROM balance_disputes l WHERE l.user_address = p_user
                ORDER BY l.occurred_at DESC, l.id DESC LIMIT 1) AS latest_kind
        FROM balance_disputes d WHERE d.user_address = p_user
    ) s
    LEFT JOIN LATERAL (
        SELECT {_DISPUTE} FROM balance_disputes d WHERE d.user_address = p_user
        ORDER BY d.occurred_at DESC, d.id DESC LIMIT p_limit OFFSET p_offset
    ) p ON true""",
    ),
    (
        "api_recent_disputes",
        "p_limit integer, p_offset integer",
        _DISPUTE_TYPES,
        "'*'",
        f"""
    SELECT {_DISPUTE} FROM balance_disputes d
    ORDER BY d.occurred_at DESC, d.id DESC LIMIT p_limit OFFSET p_offset""",
    ),
    (
        "api_bitcoin_addresses",
        "p_user text",
        """id bigint, address_ciphertext bytea, network text, verified_at timestamptz,
    monitoring boolean""",
        "p_user",
        """
    SELECT a.id, a.address_ciphertext, a.network, a.verified_at, a.monitoring
    FROM api_own_bitcoin_addresses(p_user) a""",
    ),
)

OWN_CIPHERTEXTS = """
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
"""

INDEXES = """
-- Newest-first listings across all users without sorting the table.
CREATE INDEX emergency_burns_time_idx ON emergency_burns (occurred_at DESC, id DESC);
CREATE INDEX balance_disputes_time_idx ON balance_disputes (occurred_at DESC, id DESC);
-- The pool's own facts (YieldCalculated, ScalesBalanceUpdated) name no user.
CREATE INDEX yield_operations_log_pool_idx
    ON yield_operations_log (operation, block_number DESC, log_index DESC)
    WHERE user_address IS NULL;
"""


def _types(arguments: str) -> str:
    return ", ".join(part.split()[-1] for part in arguments.split(","))


def _read_function(name: str, arguments: str, columns: str, user: str, query: str) -> str:
    # plpgsql rather than sql: it keeps the query's plan for the session, where an sql
    # function with two statements is planned again on every call.
    types = _types(arguments)
    return f"""
CREATE FUNCTION {name}({arguments})
RETURNS TABLE ({columns})
LANGUAGE plpgsql VOLATILE
AS $$
#variable_conflict use_column
BEGIN
    PERFORM set_config('reservesync.user', {user}, true);
    RETURN QUERY {query.strip()};
END
$$;
REVOKE ALL ON FUNCTION {name}({types}) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION {name}({types}) TO rs_api;
"""


def upgrade() -> None:
    functions = "".join(_read_function(*read) for read in READS)
    run_script(OWN_CIPHERTEXTS + functions + INDEXES)


def downgrade() -> None:
    drops = "".join(f"DROP FUNCTION {name}({_types(args)});" for name, args, *_ in READS)
    run_script(
        drops + "DROP INDEX yield_operations_log_pool_idx, balance_disputes_time_idx, "
        "emergency_burns_time_idx; DROP FUNCTION api_own_bitcoin_addresses(text);"
    )
