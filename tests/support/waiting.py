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


async def while_progressing(
    done: Callable[[], Awaitable[bool]],
    progress: Callable[[], Awaitable[int]],
    *,
    stall_s: float = 120.0,
    within: float = 1500.0,
    what: str = "condition",
) -> None:
    """Wait for `done` as long as `progress` (a count that only grows) keeps moving: for work
    whose size is not the test's own (say, a new consumer reading the whole session's topics),
    a fixed deadline is either far too long or too short on a busy machine. Fails once the
    count has stood still for `stall_s`, or after `within` in all."""
    start = moved_at = time.monotonic()
    seen = await progress()
    while not await done():
        now = time.monotonic()
        count = await progress()
        if count > seen:
            seen, moved_at = count, now
        if now - moved_at > stall_s:
            raise AssertionError(f"{what}: no progress for {stall_s:.0f}s (at {seen:,})")
        if now - start > within:
            raise AssertionError(f"timed out after {within:.0f}s waiting for {what} (at {seen:,})")
        await asyncio.sleep(0.5)
