"""`python -m reservesync.db.roles` (the Kubernetes Job) on the real PostgreSQL: run twice it
succeeds both times, and every role then logs in with the password it was given."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from urllib.parse import urlsplit

import asyncpg
from reservesync.db.roles import DATABASE, ROLES

from tests.support.stack import Endpoints


def test_the_roles_job_is_idempotent_and_sets_the_passwords(endpoints: Endpoints) -> None:
    passwords = {role: str(urlsplit(url).password) for role, url in endpoints.database_urls.items()}
    env = {
        **os.environ,
        "POSTGRES_ADMIN_URL": endpoints.admin_url,
        **{f"{role.upper()}_PASSWORD": password for role, password in passwords.items()},
    }
    for _ in range(2):
        ran = subprocess.run(
            [sys.executable, "-m", "reservesync.db.roles"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert ran.returncode == 0, ran.stderr
        assert f"database {DATABASE} ready" in ran.stdout

    async def logs_in(url: str) -> str:
        connection = await asyncpg.connect(url)
        try:
            return str(await connection.fetchval("SELECT current_user"))
        finally:
            await connection.close()

    assert set(endpoints.database_urls) == set(ROLES)
    for role, url in endpoints.database_urls.items():
        assert asyncio.run(logs_in(url)) == role
