"""The migrations as an operator runs them: every step down and back up again, on a real
PostgreSQL. Down to `base` leaves an empty schema; up again gives the same catalog."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import asyncpg

from tests.support.databases import fresh_database, table_checksums
from tests.support.stack import Endpoints

REVISIONS = (
    "0012",
    "0011",
    "0010",
    "0009",
    "0008",
    "0007",
    "0006",
    "0005",
    "0004",
    "0003",
    "0002",
    "0001",
)


async def _catalog(url: str) -> str:
    return (await table_checksums(url))["<catalog>"]


async def _public_objects(url: str) -> list[str]:
    connection = await asyncpg.connect(url)
    try:
        rows = await connection.fetch(
            "SELECT c.relkind::text || ':' || c.relname AS name FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' AND c.relname NOT LIKE 'alembic\\_version%' "
            "UNION ALL SELECT 'function:' || p.proname FROM pg_proc p "
            "JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public' "
            "ORDER BY 1"
        )
    finally:
        await connection.close()
    return [row["name"] for row in rows]


def _migrate(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reservesync.db.migrate", *args],
        env={"DATABASE_URL": url, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_each_step_goes_down_and_up_again(endpoints: Endpoints) -> None:
    with fresh_database(endpoints) as fresh:
        at_head = asyncio.run(_catalog(fresh.migrator_url))
        for below in (*REVISIONS[1:], "base"):
            down = _migrate(fresh.migrator_url, "downgrade", below)
            assert down.returncode == 0, down.stderr[-2000:]
        assert asyncio.run(_public_objects(fresh.migrator_url)) == []
        up = _migrate(fresh.migrator_url, "upgrade")
        assert up.returncode == 0, up.stderr[-2000:]
        # Alembic's per-revision lines are the progress an operator sees.
        for revision in REVISIONS:
            assert f"-> {revision}" in up.stderr
        assert asyncio.run(_catalog(fresh.migrator_url)) == at_head


def test_downgrade_needs_a_revision(endpoints: Endpoints) -> None:
    refused = _migrate(endpoints.migrator_url, "downgrade")
    assert refused.returncode == 2
    assert "a revision is given with downgrade" in refused.stderr
