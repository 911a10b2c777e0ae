"""`python -m db_writer.reencrypt [--batch N] [--dry-run]`: move every encrypted field onto the
current key, the step of a key rotation that lets the old key be retired.

Run it with the writer's `DATABASE_URL` and the rotated keys (`FIELD_ENCRYPTION_KEY` the new
one, the old ones in `FIELD_ENCRYPTION_PREVIOUS_KEYS`), beside the live writers: each batch is
one transaction whose updates apply only to rows still holding the ciphertext that was read,
so a row the writer rewrote meanwhile (already under the new key) is left as it is. Rows are
walked by id, so the job ends even while new rows arrive, and a second run finds nothing.
Progress is printed per batch and per table.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable

import asyncpg
from reservesync import cli
from reservesync.crypto import FieldCipher
from reservesync.encrypted_fields import ENCRYPTED, EncryptedColumn
from reservesync.progress import Progress

from db_writer.config import DatabaseToolSettings


async def reencrypt_column(
    connection: asyncpg.Connection,
    column: EncryptedColumn,
    cipher: FieldCipher,
    *,
    batch: int,
    dry_run: bool,
    say: Callable[[str], None],
) -> int:
    """Rows of `column` moved to the current key (with `dry_run`: rows that would be)."""
    table, ciphertext = column.table, column.column
    # Names come from `ENCRYPTED`, never from input.
    pending = await connection.fetchval(
        f"SELECT count(*) FROM {table} WHERE {ciphertext} IS NOT NULL AND key_id <> $1",  # noqa: S608
        cipher.key_id,
    )
    say(f"{table}.{ciphertext}: {pending} rows under other keys than {cipher.key_id!r}")
    if dry_run or not pending:
        return 0
    select = (
        f"SELECT id, {ciphertext} AS blob, {column.context_sql} AS context FROM {table} "  # noqa: S608
        f"WHERE id > $1 AND {ciphertext} IS NOT NULL AND key_id <> $2 ORDER BY id LIMIT $3"
    )
    update = (
        f"UPDATE {table} t SET {ciphertext} = v.new_blob, key_id = $4 "  # noqa: S608
        f"FROM unnest($1::bigint[], $2::bytea[], $3::bytea[]) AS v(id, old_blob, new_blob) "
        f"WHERE t.id = v.id AND t.{ciphertext} = v.old_blob"
    )
    moved, last_id = 0, 0
    with Progress(table, pending, unit="rows") as progress:
        while rows := await connection.fetch(select, last_id, cipher.key_id, batch):
            sealed = [cipher.reencrypt(bytes(r["blob"]), context=r["context"]) for r in rows]
            async with connection.transaction():
                status = await connection.execute(
                    update,
                    [r["id"] for r in rows],
                    [bytes(r["blob"]) for r in rows],
                    sealed,
                    cipher.key_id,
                )
            moved += int(status.split()[-1])
            last_id = rows[-1]["id"]
            progress.update(moved)
    return moved


async def reencrypt(
    dsn: str,
    cipher: FieldCipher,
    *,
    batch: int = 1000,
    dry_run: bool = False,
    say: Callable[[str], None] = print,
) -> dict[str, int]:
    connection = await asyncpg.connect(dsn)
    try:
        return {
            column.table: await reencrypt_column(
                connection, column, cipher, batch=batch, dry_run=dry_run, say=say
            )
            for column in ENCRYPTED
        }
    finally:
        await connection.close()


def main(argv: list[str] | None = None) -> int:
    parser = cli.parser("python -m db_writer.reencrypt", __doc__, DatabaseToolSettings)
    parser.add_argument("--batch", type=int, default=1000, help="rows per transaction")
    parser.add_argument("--dry-run", action="store_true", help="count only, change nothing")
    args = parser.parse_args(argv)
    if args.batch < 1:
        parser.error("--batch must be at least 1")
    settings = cli.load(parser, DatabaseToolSettings)

    def say(line: str) -> None:
        print(line, flush=True)

    moved = asyncio.run(
        reencrypt(
            settings.asyncpg_dsn,
            FieldCipher.from_settings(settings),
            batch=args.batch,
            dry_run=args.dry_run,
            say=say,
        )
    )
    print(f"re-encrypted {sum(moved.values())} rows under key {settings.field_encryption_key_id!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
