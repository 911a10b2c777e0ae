"""Progress of a backfill as structured log lines every few seconds: rates, distance to the
head, and when it will be caught up at the current pace."""

from __future__ import annotations

import logging
import time

from reservesync.heartbeat import heartbeat

from chain_listener import metrics

log = logging.getLogger(__name__)


class Progress:
    def __init__(self, interval_s: float, lag_when_caught_up: int) -> None:
        """`lag_when_caught_up`: blocks behind the head by design (the confirmations of
        finalized delivery), which do not count as backfill."""
        self.interval_s = interval_s
        self.lag_when_caught_up = lag_when_caught_up
        self.window_started = time.monotonic()
        self.blocks = 0
        self.events = 0

    def published(self, *, blocks: int, events: int, last_block: int, head: int) -> None:
        behind = max(0, head - last_block)
        metrics.PUBLISHED_BLOCK.set(last_block)
        metrics.BLOCKS_BEHIND.set(behind)
        heartbeat.beat(published_block=last_block, blocks_behind=behind)
        self.blocks += blocks
        self.events += events
        elapsed = time.monotonic() - self.window_started
        if elapsed < self.interval_s:
            return
        blocks_per_s = self.blocks / elapsed
        backfill = max(0, behind - self.lag_when_caught_up)
        log.info(
            "backfill progress" if backfill > 0 else "following the head",
            extra={
                "published_block": last_block,
                "head": head,
                "blocks_behind": behind,
                "blocks_per_s": round(blocks_per_s, 1),
                "events_per_s": round(self.events / elapsed, 1),
                "eta_s": round(backfill / blocks_per_s, 1) if blocks_per_s > 0 else None,
            },
        )
        self.window_started = time.monotonic()
        self.blocks = self.events = 0
