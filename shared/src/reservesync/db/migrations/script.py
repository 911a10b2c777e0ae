"""Running a whole SQL script inside a migration.

asyncpg prepares every statement, and a prepared statement holds one command; its plain
`execute()` without arguments uses the simple-query protocol, which takes a script.
"""

from __future__ import annotations

from alembic import op
from sqlalchemy.util import await_only


def run_script(sql: str) -> None:
    raw = op.get_bind().connection.dbapi_connection
    assert raw is not None
    await_only(raw.driver_connection.execute(sql))
