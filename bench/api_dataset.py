"""The realtime API benchmark's database: N users and 50 transactions each (100k and 5M by
default), written with INSERT ... SELECT generate_series as the migrator, chunk by chunk with
progress, plus what the other endpoints read (balance history, oracle states, burns, disputes,
pool participants, encrypted Bitcoin addresses).

User u's address is the first 20 bytes of SHA-256(u as 8 big-endian bytes), so the load
generator knows every address without asking the database. Per user, transaction k (0..49) is,
by k % 10: 0, 1 a MINT, 2 a BURN (both Synced, with balance history), 3, 5 a DEPOSIT, 4, 6 a
FEE_SPENT, 7 a WRAP (k % 20 = 7) or REDEEM, 8 a YIELD_CLAIM, 9 a WITHDRAW.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable

import asyncpg
from db_writer.mapping.oracle import BITCOIN_ADDRESS_LOOKUP
from reservesync.crypto import FieldCipher, normalise_bitcoin_address

TX_PER_USER = 50
CHUNK_USERS = 10_000
T0 = "2025-09-12 09:00:00+00"

ADDRESS_FUNCTION = """
CREATE OR REPLACE FUNCTION pg_temp.addr(u bigint) RETURNS text LANGUAGE sql IMMUTABLE AS
$$ SELECT '0x' || substr(encode(sha256(int8send(u)), 'hex'), 1, 40) $$;
CREATE OR REPLACE FUNCTION pg_temp.h(x bigint) RETURNS text LANGUAGE sql IMMUTABLE AS
$$ SELECT '0x' || encode(sha256(int8send(x)), 'hex') $$;
"""
# Per (user, k): its slot, its balance delta (Synced only) and the running balance.
_PLAN = """
WITH g AS (
    SELECT u, k, k % 10 AS slot FROM generate_series($1::bigint, $2::bigint) u,
         generate_series(0, 49) k
), s AS (
    SELECT u, k, slot, CASE WHEN slot IN (0, 1) THEN 1000 + (u * 7 + k) % 5000
                            WHEN slot = 2 THEN -500 ELSE 0 END AS delta
    FROM g
), w AS (
    SELECT *, sum(delta) OVER (PARTITION BY u ORDER BY k) AS balance,
           1000000 + k * 100000 + u AS block
    FROM s
)
"""
TRANSACTIONS = (
    _PLAN
    + f"""
INSERT INTO transactions (chain_id, tx_hash, log_index, block_number, block_hash,
    block_timestamp, user_address, tx_type, amount, unit, balance_after_sats, fee_wei, contract,
    event, src_topic, src_partition, src_offset)
SELECT 31337, pg_temp.h(u * 100 + k), 0, block, pg_temp.h(-block),
       timestamptz '{T0}' + (block - 1000000) * interval '1 second', pg_temp.addr(u),
       CASE slot WHEN 0 THEN 'MINT' WHEN 1 THEN 'MINT' WHEN 2 THEN 'BURN'
                 WHEN 3 THEN 'DEPOSIT' WHEN 5 THEN 'DEPOSIT' WHEN 4 THEN 'FEE_SPENT'
                 WHEN 6 THEN 'FEE_SPENT' WHEN 7 THEN CASE WHEN k % 20 = 7 THEN 'WRAP'
                 ELSE 'REDEEM' END WHEN 8 THEN 'YIELD_CLAIM' ELSE 'WITHDRAW' END,
       CASE WHEN slot IN (0, 1, 2) THEN abs(delta) WHEN slot = 7 THEN
            CASE WHEN k % 20 = 7 THEN 2000 ELSE 500 END WHEN slot = 8 THEN 25
            ELSE 1000000000000000 END,
       CASE WHEN slot IN (0, 1, 2, 7, 8) THEN 'sats' ELSE 'wei' END,
       CASE WHEN slot IN (0, 1, 2) THEN balance END,
       CASE WHEN slot IN (0, 1, 2) THEN 1000000000000000 END,
       CASE WHEN slot IN (0, 1, 2) THEN 'OracleAggregator' WHEN slot = 7 THEN 'VaultWrBTC'
            WHEN slot = 8 THEN 'YieldScalesPool' ELSE 'FeeVault' END,
       CASE WHEN slot IN (0, 1, 2) THEN 'Synced' WHEN slot = 3 OR slot = 5 THEN 'Deposited'
            WHEN slot = 4 OR slot = 6 THEN 'Spent' WHEN slot = 7 THEN
            CASE WHEN k % 20 = 7 THEN 'Wrapped' ELSE 'Redeemed' END
            WHEN slot = 8 THEN 'YieldClaimed' ELSE 'Withdrawn' END,
       'bench', 0, u * 100 + k
FROM w
"""
)
BALANCE_HISTORY = (
    _PLAN
    + f"""
INSERT INTO balance_history (chain_id, tx_hash, log_index, block_number, block_hash,
    block_timestamp, user_address, previous_sats, new_sats, delta_sats, fee_wei, cause,
    src_topic, src_partition, src_offset)
SELECT 31337, pg_temp.h(u * 100 + k), 0, block, pg_temp.h(-block),
       timestamptz '{T0}' + (block - 1000000) * interval '1 second', pg_temp.addr(u),
       balance - delta, balance, delta, 1000000000000000, 'SYNC', 'bench', 0, u * 100 + k
FROM w WHERE slot IN (0, 1, 2)
"""
)
USERS = """
INSERT INTO users (address, first_seen_source, first_seen_block, first_seen_at, seen_on_chain,
    known_to_oracle, src_topic, src_partition, src_offset)
SELECT pg_temp.addr(u), 'chain', 1000000 + u, timestamptz '{T0}', true, u % 20 <> 1, 'bench',
       0, u
FROM generate_series(1, $1::bigint) u
""".replace("{T0}", T0)
# Every 20th user (u % 20 = 1) is unknown to the oracle; every 10th differs from the chain.
REST = f"""
INSERT INTO oracle_user_states (user_address, last_synced_sats, last_sync_at, registered_at,
    operations_performed, known_burns, as_of, src_topic, src_partition, src_offset)
SELECT DISTINCT ON (user_address) user_address,
       new_sats + CASE WHEN src_offset / 100 % 10 = 0 THEN 1000 ELSE 0 END,
       block_timestamp, timestamptz '{T0}', 15, 0, block_timestamp, 'bench', 0, src_offset
FROM balance_history WHERE src_offset / 100 % 20 <> 1
ORDER BY user_address, block_number DESC;

INSERT INTO emergency_burns (burn_key, user_address, burned_sats, reason, tx_hash,
    block_number, occurred_at, seen_on_chain, reported_by_oracle, src_topic, src_partition,
    src_offset)
SELECT 'bench:' || u, pg_temp.addr(u), 12345, 'Insufficient fees', pg_temp.h(-u), 7000000 + u,
       timestamptz '{T0}' + u * interval '1 minute', true, u % 2 = 0, 'bench', 1, u
FROM generate_series(3, $1::bigint, 100) u;

INSERT INTO balance_disputes (user_address, kind, reported_balance, oracle_balance,
    occurred_at, tx_hash, operation_id, src_topic, src_partition, src_offset)
SELECT pg_temp.addr(u), kind, CASE WHEN kind = 'RAISED' THEN 5000 END, 4000,
       timestamptz '{T0}' + u * interval '1 minute' + CASE WHEN kind = 'RAISED' THEN interval '0'
       ELSE interval '1 hour' END,
       CASE WHEN kind = 'RAISED' THEN pg_temp.h(-2 * u) END,
       CASE WHEN kind = 'RESOLVED' THEN 'op-' || u END, 'bench', 2, u * 2 + (kind = 'RESOLVED')::int
FROM generate_series(5, $1::bigint, 200) u, unnest(ARRAY['RAISED', 'RESOLVED']) kind
WHERE kind = 'RAISED' OR u % 400 = 5;

INSERT INTO yield_scales_participants (user_address, participant_type, amount, active,
    joined_at, last_block, last_log_index)
SELECT pg_temp.addr(u), (u % 2)::smallint, 40000, u % 40 <> 2, timestamptz '{T0}', 6000000 + u, 0
FROM generate_series(2, $1::bigint, 20) u;

INSERT INTO yield_operations_log (chain_id, tx_hash, log_index, block_number, block_hash,
    block_timestamp, operation, details, src_topic, src_partition, src_offset)
VALUES (31337, pg_temp.h(-9000001), 0, 9000001, pg_temp.h(-9000001), timestamptz '{T0}',
        'YIELD_CALCULATED', '{{"totalUSDTVirtual": "5000000", "totalRBTCSupply": "140000",
        "currentYieldRate": "350"}}', 'bench', 3, 0),
       (31337, pg_temp.h(-9000002), 0, 9000002, pg_temp.h(-9000002), timestamptz '{T0}',
        'SCALES_UPDATED', '{{"usdtScale": "7", "rbtcScale": "3", "timestamp": "1757670000"}}',
        'bench', 3, 1);

INSERT INTO system_contracts (chain_id, name, address, deployed_block, code_present,
    observed_at, src_topic, src_partition, src_offset)
VALUES (31337, 'YieldScalesPool', '0x' || repeat('ab', 20), 1, true, now(), 'bench', 4, 0);

INSERT INTO sink_offsets (consumer_group, topic, partition, next_offset)
VALUES ('bench', 'bench', 0, $1::bigint * {TX_PER_USER});
"""


def user_address(u: int) -> str:
    return "0x" + hashlib.sha256(u.to_bytes(8, "big")).hexdigest()[:40]


def bitcoin_address(u: int) -> str:
    return "bc1q" + hashlib.sha256(b"btc" + u.to_bytes(8, "big")).hexdigest()[:38]


async def filled(url: str, users: int) -> bool:
    """Whether the database already holds this dataset (so a re-run can skip the fill)."""
    connection = await asyncpg.connect(url)
    try:
        found = await connection.fetchval(
            "SELECT (SELECT count(*) FROM users) = $1 AND "
            "(SELECT count(*) FROM transactions) = $1 * $2::bigint",
            users,
            TX_PER_USER,
        )
        return bool(found)
    finally:
        await connection.close()


async def fill(url: str, users: int, cipher: FieldCipher, progress: Callable[[str], None]) -> None:
    connection = await asyncpg.connect(url)
    started = time.perf_counter()
    try:
        await connection.execute(ADDRESS_FUNCTION)
        await connection.execute(USERS, users)
        for first in range(1, users + 1, CHUNK_USERS):
            last = min(users, first + CHUNK_USERS - 1)
            await connection.execute(TRANSACTIONS, first, last)
            await connection.execute(BALANCE_HISTORY, first, last)
            progress(
                f"  users {last:,}/{users:,}: {last * TX_PER_USER:,} transactions "
                f"({time.perf_counter() - started:.0f}s)"
            )
        for statement in REST.split(";\n"):
            if statement.strip():
                await connection.execute(statement, *((users,) if "$1" in statement else ()))
        records = []
        for u in range(1, users + 1):
            owner, btc = user_address(u), bitcoin_address(u)
            blob = cipher.encrypt(btc, context=f"bitcoin_addresses.address:{owner}")
            lookup = cipher.lookup_hash(
                normalise_bitcoin_address(btc), purpose=BITCOIN_ADDRESS_LOOKUP
            )
            records.append(
                (owner, blob, lookup, cipher.key_id, "mainnet", None, u % 3 == 0, "bench", 5, u)
            )
        await connection.copy_records_to_table(
            "bitcoin_addresses",
            records=records,
            columns=[
                "user_address",
                "address_ciphertext",
                "address_lookup",
                "key_id",
                "network",
                "verified_at",
                "monitoring",
                "src_topic",
                "src_partition",
                "src_offset",
            ],
        )
        await connection.execute("ANALYZE")
        progress(f"  the rest and ANALYZE done ({time.perf_counter() - started:.0f}s)")
    finally:
        await connection.close()
