"""Clients that declare a request body and then trickle it, a byte at a time (slowloris):
what the body read deadline (`reservesync.body_deadline`) must cut off."""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

DECLARED_BYTES = 100_000
TRICKLE_EVERY_S = 0.5


@dataclass(frozen=True)
class Outcome:
    status: int | None
    """The status line the server sent, if any."""
    closed_after_s: float | None
    """When the server closed the connection; None when it was still open at the end."""


def _status(received: bytes) -> int | None:
    line = received.split(b"\r\n", 1)[0].split()
    return int(line[1]) if len(line) > 1 and line[1].isdigit() else None


async def slow_body(url: str, method: str, path: str, *, give_up_after_s: float) -> Outcome:
    """One connection sending a body too slowly to ever finish it; how the server ended it."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    started = time.monotonic()
    reader, writer = await asyncio.open_connection(host, port)
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {DECLARED_BYTES}\r\n\r\n["
    )
    received = b""
    try:
        writer.write(head.encode())
        await writer.drain()
        async with asyncio.timeout(give_up_after_s):
            while True:
                try:
                    chunk = await asyncio.wait_for(reader.read(65536), TRICKLE_EVERY_S)
                except TimeoutError:
                    writer.write(b" ")
                    await writer.drain()
                    continue
                if not chunk:
                    break
                received += chunk
    except TimeoutError:
        return Outcome(_status(received), None)
    except ConnectionError:
        pass  # closed by the server while we were writing: that is the point
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    return Outcome(_status(received), time.monotonic() - started)


async def many_slow_bodies(
    url: str, method: str, path: str, *, count: int, give_up_after_s: float
) -> list[Outcome]:
    return list(
        await asyncio.gather(
            *(slow_body(url, method, path, give_up_after_s=give_up_after_s) for _ in range(count))
        )
    )


async def assert_cut_off(url: str, method: str, path: str, *, deadline_s: float) -> list[Outcome]:
    """40 slow bodies at once: each connection is closed by the server (a busy machine gets
    generous slack past the deadline, but "never" fails), and the service still answers."""
    outcomes = await many_slow_bodies(url, method, path, count=40, give_up_after_s=deadline_s + 30)
    still_open = [o for o in outcomes if o.closed_after_s is None]
    assert not still_open, f"{len(still_open)} of 40 slow bodies still open after the deadline"
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        answer = await http.get("/healthz")
    assert answer.status_code == 200, f"the service stopped answering: {answer.text}"
    return outcomes
