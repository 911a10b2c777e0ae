"""What the follower waits on when it has nothing to publish: the next announced block, or
its poll interval, whichever comes first.

An announcement is only a reason to ask now. The follower still asks the node for the head
and fetches ranges as it always does, so a lost, late or repeated announcement changes when
a block is found, never what is published."""

from __future__ import annotations

import asyncio

from chain_listener import metrics


class HeadSignal:
    def __init__(self, poll_interval_s: float, subscribed_poll_interval_s: float) -> None:
        self.poll_interval_s = poll_interval_s
        self.subscribed_poll_interval_s = subscribed_poll_interval_s
        self._announced = asyncio.Event()
        self._subscribed = False
        self._show_mode()

    @property
    def subscribed(self) -> bool:
        return self._subscribed

    @subscribed.setter
    def subscribed(self, live: bool) -> None:
        changed = live != self._subscribed
        self._subscribed = live
        self._show_mode()
        if changed and not live:
            # A waiter may be sleeping out the long interval of a live subscription: it
            # asks once now, then polls at the fallback pace.
            self.announce()

    @property
    def mode(self) -> str:
        return "push" if self._subscribed else "poll"

    @property
    def interval_s(self) -> float:
        """How long the follower may wait without an announcement."""
        return self.subscribed_poll_interval_s if self._subscribed else self.poll_interval_s

    def announce(self) -> None:
        self._announced.set()

    def taken(self) -> None:
        """The follower is about to ask the node: announcements so far are answered by that."""
        self._announced.clear()

    async def wait(self, stop: asyncio.Event) -> None:
        """Until a block is announced (or was since `taken`), `stop` is set, or the interval
        passed."""
        waiting = {
            asyncio.ensure_future(self._announced.wait()),
            asyncio.ensure_future(stop.wait()),
        }
        try:
            await asyncio.wait(
                waiting, timeout=self.interval_s, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            for task in waiting:
                task.cancel()

    def _show_mode(self) -> None:
        for mode in ("push", "poll"):
            metrics.HEAD_SOURCE.labels(mode).set(1 if mode == self.mode else 0)
