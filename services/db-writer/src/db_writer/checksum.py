"""A content checksum of the database: equal for the live database and a replay of the topics.

Per table, rows are read in their natural-key order and hashed over their content columns:
surrogate ids, insertion times and provenance are left out (provenance of a merged row depends
on which of two topics was read first), and encrypted columns are decrypted first (each
encryption uses a fresh nonce, so equal plaintexts never have equal ciphertexts).
"""

from __future__ import annotations

import asyncio
import hashlib
import sys
from dataclasses import dataclass

import asyncpg
from reservesync import cli
from reservesync.crypto import FieldCipher
from reservesync.encrypted_fields import (
    BALANCE_BITCOIN_ADDRESSES,
    DISPUTE_DESCRIPTIONS,
    OPERATION_BITCOIN_ADDRESSES,
    WATCHED_BITCOIN_ADDRESSES,
    EncryptedColumn,
)
from reservesync.progress import Progress

from db_writer.config import DatabaseToolSettings

IGNORED = {"id", "created_at", "updated_at", "src_topic", "src_partition", "src_offset", "key_id"}


@dataclass(frozen=True)
class Checked:
    table: str
    order_by: str
    encrypted: tuple[EncryptedColumn, ...] = ()


CHECKED = (
    Checked("users", "address"),
    Checked("transactions", "chain_id, tx_hash, log_index"),
    Checked("balance_history", "chain_id, tx_hash, log_index"),
    Checked("balance_snapshots", "chain_id, tx_hash, log_index"),
    Checked("emergency_burns", "burn_key"),
    Checked(
        "balance_disputes",
        "user_address, occurred_at, kind, tx_hash, operation_id, reported_balance, oracle_balance",
        (DISPUTE_DESCRIPTIONS,),
    ),
    Checked("oracle_operations_log", "operation_id", (OPERATION_BITCOIN_ADDRESSES,)),
    Checked("oracle_user_states", "user_address"),
    Checked("bitcoin_addresses", "user_address, address_lookup", (WATCHED_BITCOIN_ADDRESSES,)),
    Checked("system_contracts", "chain_id, name"),
    Checked("bitcoin_address_balances", "address_lookup", (BALANCE_BITCOIN_ADDRESSES,)),
    Checked("yield_operations_log", "chain_id, tx_hash, log_index"),
    Checked("yield_scales_participants", "user_address"),
    Checked("user_evidence", "address, source, src_topic, src_partition"),
    Checked("emergency_burn_evidence", "burn_key, source, src_topic, src_partition"),
    Checked("token_movements", "chain_id, tx_hash, log_index, direction"),
)


async def table_digest(
    connection: asyncpg.Connection, checked: Checked, cipher: FieldCipher
) -> tuple[int, str]:
    contexts = ", ".join(f"{e.context_sql} AS _ctx_{e.column}" for e in checked.encrypted)
    select = "*" + (f", {contexts}" if contexts else "")
    digest = hashlib.sha256()
    rows = 0
    async with connection.transaction():
        # Names come from CHECKED above, never from input.
        query = f"SELECT {select} FROM {checked.table} ORDER BY {checked.order_by}"  # noqa: S608
        async for record in connection.cursor(query, prefetch=2000):
            values = []
            for name, value in record.items():
                if name in IGNORED or name.startswith("_ctx_"):
                    continue
                shown = value
                if value is not None and any(name == e.column for e in checked.encrypted):
                    shown = cipher.decrypt(bytes(value), context=record[f"_ctx_{name}"])
                values.append(f"{name}={shown!r}")
            digest.update(("|".join(values) + "\n").encode())
            rows += 1
    return rows, digest.hexdigest()


async def database_checksum(
    dsn: str, cipher: FieldCipher, *, progress: bool = False
) -> dict[str, tuple[int, str]]:
    """Per table: (rows, digest). `progress`: show it table by table (the command does)."""
    connection = await asyncpg.connect(dsn)
    try:
        if not progress:
            return {c.table: await table_digest(connection, c, cipher) for c in CHECKED}
        digests: dict[str, tuple[int, str]] = {}
        with Progress("checksum", len(CHECKED), unit="tables", every_s=0) as shown:
            for checked in CHECKED:
                digests[checked.table] = await table_digest(connection, checked, cipher)
                shown.advance(note=checked.table)
        return digests
    finally:
        await connection.close()


def combined(per_table: dict[str, tuple[int, str]]) -> str:
    return hashlib.sha256(
        "".join(f"{t}:{n}:{d}\n" for t, (n, d) in sorted(per_table.items())).encode()
    ).hexdigest()


def main(argv: list[str] | None = None) -> int:
    """`python -m db_writer.checksum [--database-url URL]`: print per-table and total digests."""
    parser = cli.parser("python -m db_writer.checksum", main.__doc__, DatabaseToolSettings)
    parser.add_argument("--database-url", help="default: DATABASE_URL")
    args = parser.parse_args(argv)
    settings = cli.load(parser, DatabaseToolSettings)
    dsn = args.database_url or settings.asyncpg_dsn
    cipher = FieldCipher.from_settings(settings)
    per_table = asyncio.run(database_checksum(dsn, cipher, progress=True))
    for table, (rows, digest) in per_table.items():
        print(f"{table:<28} {rows:>10} rows  {digest[:16]}")
    print(f"checksum {combined(per_table)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
