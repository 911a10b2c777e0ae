"""Waiting until the stack's bitcoin-listener has published through a Bitcoin height for every
verified address, so a reserves line describes Bitcoin as it stands rather than mid-scan.

Its heartbeat (`/healthz`) says `next_height=… head=… watched=…` once the turn before has
committed, so a height it names is on the topic for read_committed consumers."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable

from devstack import services

NAME = "bitcoin-listener"
_FACT = re.compile(r"(\w+)=(\S+)")


def _progress() -> tuple[int, int, str]:
    """(last height published, addresses watched, its heartbeat line)."""
    _status, line = services.probe(NAME, "/healthz")
    facts = dict(_FACT.findall(line))
    try:
        return int(facts["next_height"]) - 1, int(facts["watched"]), line
    except (KeyError, ValueError):
        return -1, 0, line


async def until_published(
    height: int,
    addresses: int,
    *,
    within_s: float = 180,
    say: Callable[[str], None] = print,
) -> int:
    """Waits until the listener watches `addresses` addresses and has published through
    `height`; returns the height it reached."""
    deadline = time.monotonic() + within_s
    last_said = time.monotonic()
    while True:
        reached, watched, line = await asyncio.to_thread(_progress)
        if reached >= height and watched >= addresses:
            return reached
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"the bitcoin-listener did not publish through height {height} for "
                f"{addresses} addresses in {within_s:.0f}s; its heartbeat: {line}"
            )
        if time.monotonic() - last_said > 5:
            say(f"  waiting for the bitcoin-listener: at {reached} of {height}, {line}")
            last_said = time.monotonic()
        await asyncio.sleep(0.5)
