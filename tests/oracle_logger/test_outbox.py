"""The oracle client's outbox: an oracle process killed (-9) while the oracle-logger is down
loses nothing; after both restart every operation reaches the topic exactly once. Retries run
by deadline, and what is not delivered stays on disk."""

from __future__ import annotations

import asyncio
import json
import secrets
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from devstack import procs, services
from oracle_logger.client import OracleLoggerClient, OracleLoggerUnavailable
from oracle_logger.outbox import Outbox
from reservesync.messages import OracleOperation
from reservesync.topics import ORACLE_OPERATIONS

from tests.oracle_logger.support import harness as ol
from tests.support.stack import Endpoints

PREFIX = "outbox-test"
ORACLE_SCRIPT = Path(__file__).parent / "support" / "outbox_oracle.py"
TOTAL = 60
KILL_AFTER = 30


async def _oracle(
    url: str, token: str, outbox: Path, *, user: str, run: str, start: int
) -> asyncio.subprocess.Process:
    # Its errors in a file beside the outbox (a pipe nobody reads could fill and block it).
    errors = await asyncio.to_thread(outbox.with_suffix(".stderr").open, "ab")
    with errors:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            str(ORACLE_SCRIPT),
            url,
            ol.ORACLE,
            token,
            str(outbox),
            user,
            run,
            str(start),
            str(TOTAL),
            stdout=asyncio.subprocess.PIPE,
            stderr=errors,
        )


def _tail(path: Path) -> str:
    return path.read_text(errors="replace")[-3000:] if path.exists() else ""


async def _lines_until(
    process: asyncio.subprocess.Process, last: str, within: float, errors: Path
) -> list[str]:
    assert process.stdout is not None
    lines: list[str] = []
    async with asyncio.timeout(within):
        while not lines or lines[-1] != last:
            line = await process.stdout.readline()
            if not line:
                why = await asyncio.to_thread(_tail, errors)
                raise AssertionError(
                    f"the oracle ended before printing {last!r}: {lines[-5:]}\n{why}"
                )
            lines.append(line.decode().strip())
    return lines


def _last_logged(lines: list[str]) -> int:
    return max(int(line.split()[1]) for line in lines if line.startswith("logged "))


async def test_an_oracle_killed_while_the_service_is_down_loses_nothing(
    endpoints: Endpoints, tmp_path: Path
) -> None:
    port = procs.free_port(0)
    url = f"http://127.0.0.1:{port}"
    token = "tok-" + secrets.token_hex(16)
    user, run, outbox = ol.new_user(), f"op-{secrets.token_hex(4)}", tmp_path / "oracle.outbox"

    # The oracle-logger is down: every operation stays in the outbox; then kill -9.
    first = await _oracle(url, token, outbox, user=user, run=run, start=0)
    seen = await _lines_until(
        first, f"logged {KILL_AFTER}", within=120, errors=outbox.with_suffix(".stderr")
    )
    first.kill()
    assert first.stdout is not None
    seen += (await first.stdout.read()).decode().split("\n")
    await first.wait()
    resume = _last_logged(seen) + 1
    assert resume < TOTAL, "the oracle finished before it was killed"
    assert Outbox(outbox).pending() == resume, "every logged operation is on disk"

    services.stop(["oracle-logger"], prefix=PREFIX)
    services.start(
        ["oracle-logger"],
        {
            "ORACLE_TOKENS": json.dumps({ol.ORACLE: token}),
            "ORACLE_SCOPES": json.dumps({ol.ORACLE: ol.FULL_SCOPE}),
            "HTTP_PORT": str(port),
        },
        stack=endpoints.env(),
        prefix=PREFIX,
    )
    try:
        second = await _oracle(url, token, outbox, user=user, run=run, start=resume)
        await _lines_until(second, "flushed", within=180, errors=outbox.with_suffix(".stderr"))
        assert await second.wait() == 0
    finally:
        services.stop(["oracle-logger"], prefix=PREFIX)

    assert Outbox(outbox).pending() == 0
    records = await ol.published(endpoints.kafka_bootstrap_servers, ORACLE_OPERATIONS.name, {user})
    arrived = Counter(record["operation_id"] for record in records)
    assert arrived == Counter({f"{run}-{i}": 1 for i in range(TOTAL)})


async def test_retries_end_at_the_deadline_and_keep_the_operations(tmp_path: Path) -> None:
    closed = procs.free_port(0)  # nothing listens: every attempt is refused
    user = ol.new_user()
    ops = [OracleOperation.model_validate(ol.operation(user)) for _ in range(3)]
    path = tmp_path / "outbox"
    client = OracleLoggerClient(
        f"http://127.0.0.1:{closed}",
        ol.ORACLE,
        token=ol.TOKEN,
        outbox=path,
        batch_size=10,
        max_delay_s=60,
        retry_for_s=1.5,
        backoff_base_s=0.05,
        backoff_max_s=0.2,
    )
    try:
        for op in ops + ops[:1]:  # logged twice (an oracle redoing a step): kept once
            await client.log_operation(op)
        started = time.monotonic()
        with pytest.raises(OracleLoggerUnavailable, match=r"attempts in 2s failed"):
            await client.flush()
        assert time.monotonic() - started >= 1.0, "gave up before the deadline"
    finally:
        await client.aclose()
    reopened = Outbox(path)
    assert [op.operation_id for _, op in reopened.head(10)] == [op.operation_id for op in ops]
