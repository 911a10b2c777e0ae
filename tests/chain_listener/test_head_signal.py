"""The follower's wake-ups on their own: an announcement made while the follower was asking
the node is not lost, and a subscription that drops wakes a follower sleeping out the long
interval of a live one. (On the real node and Kafka: test_head_push.py.)"""

from __future__ import annotations

import asyncio

from chain_listener.head_signal import HeadSignal

LONG_S = 600.0
"""Far longer than any bound below: returning in time means the wait was woken."""
WOKEN_WITHIN_S = 10.0


async def test_an_announcement_during_a_step_wakes_the_next_wait_at_once() -> None:
    signal = HeadSignal(poll_interval_s=LONG_S, subscribed_poll_interval_s=LONG_S)
    signal.taken()  # the follower starts asking the node
    signal.announce()  # a block arrives meanwhile
    await asyncio.wait_for(signal.wait(asyncio.Event()), WOKEN_WITHIN_S)


async def test_announcements_before_a_step_are_answered_by_it() -> None:
    signal = HeadSignal(poll_interval_s=0.05, subscribed_poll_interval_s=LONG_S)
    signal.announce()
    signal.announce()  # repeated
    signal.taken()
    started = asyncio.get_running_loop().time()
    await signal.wait(asyncio.Event())
    assert asyncio.get_running_loop().time() - started >= 0.05, "woken by an old announcement"


async def test_a_dropped_subscription_wakes_the_waiter_and_polls_at_the_fallback_pace() -> None:
    signal = HeadSignal(poll_interval_s=0.05, subscribed_poll_interval_s=LONG_S)
    signal.subscribed = True
    assert (signal.mode, signal.interval_s) == ("push", LONG_S)
    signal.taken()
    waiting = asyncio.create_task(signal.wait(asyncio.Event()))
    await asyncio.sleep(0)
    signal.subscribed = False
    await asyncio.wait_for(waiting, WOKEN_WITHIN_S)
    assert (signal.mode, signal.interval_s) == ("poll", 0.05)


async def test_stop_ends_the_wait() -> None:
    signal = HeadSignal(poll_interval_s=LONG_S, subscribed_poll_interval_s=LONG_S)
    stop = asyncio.Event()
    stop.set()
    await asyncio.wait_for(signal.wait(stop), WOKEN_WITHIN_S)
