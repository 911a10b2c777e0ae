"""The health service's own tables: digests of the database's content kept by triggers, and the
world as health reads it itself (the chain's logs, the oracle's users and burns), with its
cursor on the chain.

`health_db_digests` holds, per scored table and bucket, the count and the sum of the 64-bit
hashes of each row's canonical content (`reservesync.digests`). Statement triggers keep it in
the same transaction as the rows, whoever writes them (the db-writer, a replay, a person with
psql), so a row deleted, altered or added by hand moves its bucket's digest. The trigger
functions are SECURITY DEFINER: no writing role needs rights on the digests.

`health_world_*` and `health_chain_cursor` are written by `rs_health` only (its first write
rights, on its own tables); every other table stays read-only to it.

Revision ID: 0009
Revises: 0008
"""

from reservesync.db.migrations.script import run_script
from reservesync.digests import SQL, TableSql

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

TABLES = """
CREATE TABLE health_db_digests (
    tbl text NOT NULL,
    bucket bigint NOT NULL,
    n bigint NOT NULL,
    total numeric NOT NULL,
    PRIMARY KEY (tbl, bucket)
);
CREATE TABLE health_world_digests (
    tbl text NOT NULL,
    bucket bigint NOT NULL,
    n bigint NOT NULL,
    total numeric NOT NULL,
    PRIMARY KEY (tbl, bucket)
);
CREATE TABLE health_world_users (
    address text PRIMARY KEY,
    on_chain boolean NOT NULL DEFAULT false,
    first_block bigint,
    in_oracle boolean NOT NULL DEFAULT false
);
CREATE TABLE health_world_burns (
    burn_key text PRIMARY KEY,
    user_address text NOT NULL,
    burned_sats numeric(78, 0) NOT NULL,
    block_number bigint,
    on_chain boolean NOT NULL DEFAULT false,
    in_oracle boolean NOT NULL DEFAULT false
);
CREATE INDEX health_world_burns_block_idx ON health_world_burns (block_number);
CREATE TABLE health_chain_cursor (
    chain_id bigint PRIMARY KEY,
    next_block bigint NOT NULL,
    last_hash text,
    updated_at timestamptz NOT NULL DEFAULT now()
);
"""

# (watched table, the scored table its digest stands for, the digests table)
WATCHED = (
    ("transactions", "transactions", "health_db_digests"),
    ("emergency_burns", "emergency_burns", "health_db_digests"),
    ("users", "users", "health_db_digests"),
    ("oracle_operations_log", "oracle_operations_log", "health_db_digests"),
    ("health_world_users", "users", "health_world_digests"),
    ("health_world_burns", "emergency_burns", "health_world_digests"),
)


def _delta(sql: TableSql, relation: str, sign: int) -> str:
    return f"SELECT {sql.bucket} AS b, {sign} AS s, {sign} * {sql.hash}::numeric AS h FROM {relation} r"


def _function(watched: str, scored: str, digests: str, event: str) -> str:
    sql = SQL[scored]
    parts = {
        "insert": [_delta(sql, "new_rows", 1)],
        "update": [_delta(sql, "new_rows", 1), _delta(sql, "old_rows", -1)],
        "delete": [_delta(sql, "old_rows", -1)],
    }[event]
    name = f"{watched}_digest_{event}"
    return f"""
CREATE FUNCTION {name}() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    INSERT INTO {digests} AS d (tbl, bucket, n, total)
    SELECT '{scored}', x.b, sum(x.s), sum(x.h) FROM ({" UNION ALL ".join(parts)}) x
    GROUP BY x.b ORDER BY x.b
    ON CONFLICT (tbl, bucket) DO UPDATE SET n = d.n + excluded.n, total = d.total + excluded.total;
    RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION {name}() FROM PUBLIC;
"""


def _triggers(watched: str, scored: str, digests: str) -> str:
    referencing = {
        "insert": "NEW TABLE AS new_rows",
        "update": "OLD TABLE AS old_rows NEW TABLE AS new_rows",
        "delete": "OLD TABLE AS old_rows",
    }
    script = ""
    for event, transition in referencing.items():
        script += _function(watched, scored, digests, event)
        script += (
            f"CREATE TRIGGER {watched}_digest_{event} AFTER {event.upper()} ON {watched} "
            f"REFERENCING {transition} FOR EACH STATEMENT "
            f"EXECUTE FUNCTION {watched}_digest_{event}();\n"
        )
    script += f"""
CREATE FUNCTION {watched}_digest_truncate() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    DELETE FROM {digests} WHERE tbl = '{scored}';
    RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION {watched}_digest_truncate() FROM PUBLIC;
CREATE TRIGGER {watched}_digest_truncate AFTER TRUNCATE ON {watched}
    FOR EACH STATEMENT EXECUTE FUNCTION {watched}_digest_truncate();
"""
    return script


def _initial(watched: str, scored: str, digests: str) -> str:
    sql = SQL[scored]
    return (
        f"INSERT INTO {digests} (tbl, bucket, n, total) "
        f"SELECT '{scored}', {sql.bucket}, count(*), sum({sql.hash}::numeric) "
        f"FROM {watched} r GROUP BY 2;\n"
    )


GRANTS = """
GRANT SELECT ON health_db_digests, transactions, balance_history TO rs_health;
GRANT SELECT, INSERT, UPDATE, DELETE
    ON health_world_digests, health_world_users, health_world_burns, health_chain_cursor
    TO rs_health;
"""


def upgrade() -> None:
    script = TABLES
    for watched in WATCHED:
        script += _triggers(*watched)
    for watched in WATCHED:
        script += _initial(*watched)
    run_script(script + GRANTS)


def downgrade() -> None:
    script = ""
    for watched, _, _ in WATCHED:
        for event in ("insert", "update", "delete", "truncate"):
            script += f"DROP TRIGGER {watched}_digest_{event} ON {watched};\n"
            script += f"DROP FUNCTION {watched}_digest_{event}();\n"
    script += (
        "DROP TABLE health_chain_cursor, health_world_burns, health_world_users, "
        "health_world_digests, health_db_digests;\n"
    )
    run_script(script)
