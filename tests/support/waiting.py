"""Waiting for an asynchronous pipeline to reach a state, with a clear failure when it does not."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def eventually(
    probe: Callable[[], Awaitable[T]], *, within: float = 30.0, what: str = "condition"
) -> T:
    """Poll `probe` until it returns something truthy; fail with `what` after `within` s."""
    deadline = time.monotonic() + within
    last: T | None = None
    while time.monotonic() < deadline:
        last = await probe()
        if last:
            return last
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out after {within:.0f}s waiting for {what} (last: {last!r})")
