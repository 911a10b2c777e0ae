"""The listener: backfill from the start block (or the checkpoint), then follow the head, as one
loop. A follower task fetches, verifies and decodes ranges ahead; this loop publishes them in
order, each with its checkpoint in one Kafka transaction."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging

from reservesync import collector
from reservesync.heartbeat import heartbeat
from reservesync.log_ranges import RangeSizer
from reservesync.messages import Alert

from chain_listener import checkpoint, metrics
from chain_listener.completeness import CompletenessCheck
from chain_listener.config import Settings
from chain_listener.decoder import EventDecoder
from chain_listener.fetcher import RangeFetcher
from chain_listener.follower import ChainFollower, RangeWork, ReorgWork, Work
from chain_listener.head_signal import HeadSignal
from chain_listener.head_subscription import HeadSubscription
from chain_listener.node import Node
from chain_listener.progress import Progress
from chain_listener.publisher import Outgoing, RangePublisher
from chain_listener.registry_publisher import RegistryWatcher
from chain_listener.rpc import JsonRpcClient

log = logging.getLogger(__name__)


class ChainListener:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.decoder = EventDecoder(settings.chain_id, settings.chain_contracts)
        self.selection = settings.event_selection
        self.client = JsonRpcClient(
            settings.rpc_urls,
            timeout_s=settings.chain_rpc_timeout_s,
            batch_size=settings.chain_rpc_batch_size,
        )
        self.node = Node(self.client, self.decoder.addresses)
        self.publisher = RangePublisher(settings)
        self.registry = RegistryWatcher(
            self.node,
            self.publisher,
            settings.chain_id,
            settings.chain_contracts,
            settings.chain_registry_check_interval_s,
        )
        self.heads = HeadSignal(settings.chain_poll_interval_s, settings.chain_ws_poll_interval_s)
        self.progress = Progress(
            settings.chain_progress_interval_s,
            settings.chain_confirmations if settings.chain_delivery == "finalized" else 0,
        )

    async def run(self, stop: asyncio.Event) -> None:
        # The producer starts first: that aborts a killed predecessor's open transaction, so
        # the checkpoint read next is the last one committed.
        await self.publisher.start()
        try:
            saved = await checkpoint.load(self.settings, self.settings.checkpoint_key)
            follower = self._follower(saved)
            collector.tune_for_batches()
            log.info(
                "starting",
                extra={
                    "next_block": follower.next_block,
                    "resumed": saved is not None,
                    "delivery": self.settings.chain_delivery,
                    "confirmations": self.settings.chain_confirmations,
                    "end_block": self.settings.chain_end_block,
                    "events_include": self.settings.chain_events_include,
                    "events_exclude": self.settings.chain_events_exclude,
                },
            )
            await self._publish_in_order(follower, stop)
        finally:
            await self.publisher.stop()
            await self.client.close()

    def _follower(self, saved: checkpoint.Checkpoint | None) -> ChainFollower:
        settings = self.settings
        sizer = RangeSizer(
            settings.chain_initial_block_range,
            settings.chain_max_block_range,
            settings.chain_range_target_s,
            settings.chain_target_logs_per_range,
        )
        check = CompletenessCheck(
            self.node, self.decoder.addresses, every_block=settings.chain_receipts_every_block
        )
        return ChainFollower(
            settings,
            self.node,
            RangeFetcher(self.node, check, sizer),
            saved,
            self.heads,
            decode=functools.partial(self.decoder.decode_range, selection=self.selection),
        )

    async def _publish_in_order(self, follower: ChainFollower, stop: asyncio.Event) -> None:
        queue: asyncio.Queue[Work] = asyncio.Queue(maxsize=self.settings.chain_prefetch_ranges)
        helpers = [asyncio.create_task(follower.run(queue, stop), name="chain-follower")]
        if self.settings.chain_ws_url:
            subscription = HeadSubscription(
                self.settings.chain_ws_url,
                self.heads,
                timeout_s=self.settings.chain_rpc_timeout_s,
            )
            helpers.append(asyncio.create_task(subscription.run(), name="head-subscription"))
        try:
            # The registry goes out first; meanwhile the follower already fetches and verifies
            # the first ranges from the node, which a start from scratch would otherwise wait on.
            await self.registry.publish_all()
            while not stop.is_set():
                heartbeat.beat(next_block=follower.next_block, heads=self.heads.mode)
                work = await self._next(queue, helpers)
                if isinstance(work, RangeWork):
                    ranges, reorg = with_queued_ranges(work, queue)
                    await self._publish(ranges)
                    if reorg is not None:
                        await self._publish_reorg(reorg)
                elif work is not None:
                    await self._publish_reorg(work)
                elif follower.finished and queue.empty():
                    log.info("backfill complete", extra={"end_block": follower.next_block - 1})
                    return
                await self.registry.check_if_due()
        finally:
            for helper in helpers:
                helper.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await helper

    async def _next(
        self, queue: asyncio.Queue[Work], helpers: list[asyncio.Task[None]]
    ) -> Work | None:
        """The next work, or None after a poll interval without any; re-raises what ended
        a helper task (the follower, the head subscription), so a broken one stops the
        listener instead of stalling it."""
        getting = asyncio.ensure_future(queue.get())
        done, _ = await asyncio.wait(
            {getting, *helpers},
            timeout=self.settings.chain_poll_interval_s,
            return_when=asyncio.FIRST_COMPLETED,
        )
        if getting in done:
            return getting.result()
        getting.cancel()
        for helper in done:
            helper.result()
        return None

    async def _publish(self, ranges: list[RangeWork]) -> None:
        """Consecutive ranges in one transaction, closed by the last one's checkpoint."""
        decoded = [await work.decoded for work in ranges]
        events = [event for part in decoded for event in part.events]
        letters = [letter for part in decoded for letter in part.dead_letters]
        await self.publisher.publish(Outgoing(ranges[-1].checkpoint, events, letters))
        for part in decoded:
            part.count_published()
        self.progress.published(
            blocks=sum(work.verified.blocks.size for work in ranges),
            events=len(events),
            last_block=ranges[-1].verified.blocks.last,
            head=ranges[-1].head,
        )

    async def _publish_reorg(self, work: ReorgWork) -> None:
        settings, reorg = self.settings, work.reorg
        alerts: list[Alert] = []
        if reorg.exceeds(settings.chain_confirmations):
            alert = reorg.alert(
                settings.chain_id, settings.chain_confirmations, settings.chain_delivery
            )
            alerts.append(alert)
            metrics.DEEP_REORGS.inc()
            log.error("reorg deeper than the confirmations", extra={"alert": alert.to_dict()})
        metrics.REORGS.labels("deep" if alerts else "shallow").inc()
        await self.publisher.publish(
            Outgoing(work.checkpoint, reorg=reorg.notice(settings.chain_id), alerts=alerts)
        )
        # Orphaned blocks may have held a deployment: check the code again at once.
        await self.registry.check_now()


def with_queued_ranges(
    first: RangeWork, queue: asyncio.Queue[Work]
) -> tuple[list[RangeWork], ReorgWork | None]:
    """`first` and the ranges verified behind it meanwhile, to publish in one transaction: a
    commit per range would make blocks that arrive faster than a commit wait in the queue.
    A reorg met on the way is returned to be published after them, as it came."""
    ranges = [first]
    while not queue.empty():
        work = queue.get_nowait()
        if isinstance(work, ReorgWork):
            return ranges, work
        ranges.append(work)
    return ranges, None
