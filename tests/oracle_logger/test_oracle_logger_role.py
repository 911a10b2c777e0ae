"""`rs_oracle_logger` may touch its two tables and nothing else (least privilege), on the real
database."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import asyncpg
import pytest

from tests.support.stack import Endpoints


@pytest.fixture
async def logger_role(endpoints: Endpoints) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(endpoints.database_urls["rs_oracle_logger"])
    try:
        yield connection
    finally:
        await connection.close()


async def test_it_records_and_prunes_its_own_tables(logger_role: asyncpg.Connection) -> None:
    op_id = f"op-role-{secrets.token_hex(8)}"
    async with logger_role.transaction():
        await logger_role.execute(
            "INSERT INTO oracle_intake (operation_id, content_digest, oracle_id) "
            "VALUES ($1, $2, 'oracle-role')",
            op_id,
            "a" * 64,
        )
        await logger_role.execute(
            "UPDATE oracle_intake SET published_at = now() WHERE operation_id = $1", op_id
        )
        await logger_role.execute("DELETE FROM oracle_intake WHERE operation_id = $1", op_id)
        await logger_role.execute(
            "INSERT INTO oracle_used_signatures VALUES ($1, now())", f"sig-{op_id}"
        )
        await logger_role.execute("DELETE FROM oracle_used_signatures WHERE expires_at < now()")


@pytest.mark.parametrize(
    "statement",
    [
        "SELECT count(*) FROM oracle_operations_log",
        "SELECT count(*) FROM users",
        "DELETE FROM transactions",
        "UPDATE sink_offsets SET next_offset = 0",
        "UPDATE oracle_used_signatures SET expires_at = now()",
        "CREATE TABLE sneaky (id int)",
        "DROP TABLE oracle_intake",
        "TRUNCATE oracle_intake",
    ],
)
async def test_it_can_do_nothing_else(logger_role: asyncpg.Connection, statement: str) -> None:
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await logger_role.execute(statement)
