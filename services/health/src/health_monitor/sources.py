"""Reads the small topics health shows as they are (the registry, dead letters, alerts), from
the beginning and then as they come, into the registry, the dead-letter book and the alert feed.

The event and operation topics are not read: what is scored is the world (the chain and the
oracle, read by health itself) against the database, so a start costs the same however long
those topics are. It reads through FastStream subscribers (`source_stream`), read_committed and
without a consumer group: nothing is committed. Readiness is the consumers' positions reaching
the end offsets seen at start: positions count transaction markers and aborted records, which
no handler receives, so the records handled could not tell.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping

from aiokafka import AIOKafkaConsumer, TopicPartition
from reservesync import kafka
from reservesync.contracts import SystemContract
from reservesync.messages import Alert, DeadLetter, InvalidMessage, RegisteredContract
from reservesync.settings import KafkaSettings

from health_monitor import metrics, source_stream
from health_monitor.domain.alert_feed import AlertFeed
from health_monitor.domain.alerting import OWN_PREFIX
from health_monitor.domain.dead_letters import TALLIED_TOPICS, DeadLetterBook
from health_monitor.source_stream import TOPICS, Read, Record, read

__all__ = ["TOPICS", "Read", "Record", "SourceReader", "read"]

log = logging.getLogger(__name__)
POLL_MS = 300


class SourceReader:
    def __init__(
        self,
        settings: KafkaSettings,
        letters: DeadLetterBook,
        feed: AlertFeed,
        on_new_alert: Callable[[Alert], None] | None = None,
    ) -> None:
        self.sources = source_stream.declare(settings, self)
        self.settings = settings
        self.registry: dict[SystemContract, RegisteredContract] = {}
        """The newest registration of each system contract."""
        self.letters = letters
        self.feed = feed
        self.on_new_alert = on_new_alert
        self.caught_up = asyncio.Event()
        """Set once everything published before the start has been read."""
        self.records = 0
        self.failure: str | None = None
        self._applied_up_to: dict[TopicPartition, int] = {}
        """Per partition, the offset after the last record applied."""
        self._last_look: dict[TopicPartition, tuple[int, int]] = {}

    async def run(self, stop: asyncio.Event) -> None:
        try:
            await self._read(stop)
        except Exception as exc:
            # Readiness reports it, so the orchestrator restarts the service.
            self.failure = f"{type(exc).__name__}: {exc}"
            log.exception("reading the sources failed")
            raise

    def take(self, record: Record, message: Read) -> None:
        """Called by the subscribers for each record, decoded or not (`source_stream.Sink`)."""
        self._apply_safely(record, message)
        self._applied_up_to[TopicPartition(record.topic, record.partition)] = record.offset + 1

    async def _read(self, stop: asyncio.Event) -> None:
        partitions = await self._partitions()
        await self.sources.broker.start()
        try:
            consumers = self._consumers()
            first_ends = dict(await consumers[0].end_offsets(partitions))
            while not stop.is_set():
                if not self.caught_up.is_set() and await self._reached(consumers, first_ends):
                    log.info("sources read", extra={"records": self.records})
                    self.caught_up.set()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), POLL_MS / 1000)
        finally:
            await self.sources.broker.stop()

    def _consumers(self) -> list[AIOKafkaConsumer]:
        consumers = [s.consumer for s in self.sources.subscribers]
        running = [c for c in consumers if c is not None]
        if len(running) != len(consumers):
            raise RuntimeError("a subscriber of the sources did not start its consumer")
        return running

    async def _partitions(self) -> list[TopicPartition]:
        admin = kafka.admin(self.settings)
        await admin.start()
        try:
            described = await admin.describe_topics(list(TOPICS))
        finally:
            await admin.close()
        missing = [d["topic"] for d in described if d["error_code"] != 0]
        if missing:
            raise RuntimeError(f"topics missing: {', '.join(missing)} (run ensure_topics)")
        return [
            TopicPartition(d["topic"], p["partition"])
            for d in described
            for p in sorted(d["partitions"], key=lambda p: int(p["partition"]))
        ]

    async def _reached(
        self, consumers: list[AIOKafkaConsumer], ends: Mapping[TopicPartition, int]
    ) -> bool:
        """Whether every record before the start's end of each partition has been applied.

        The subscribers are assigned their topics' partitions (no group: all of them) once they
        have metadata. A record handed out is behind the position before its handler applied
        it, so a position at the end is enough only where the last record applied is right
        behind it; else (transaction markers or aborted records skipped, or a record still in
        its handler) the partition must have stood still since the last look."""
        looks: dict[TopicPartition, tuple[int, int]] = {}
        for tp, end in ends.items():
            owner = next((c for c in consumers if tp in c.assignment()), None)
            if owner is None:
                return False
            position, applied = await owner.position(tp), self._applied_up_to.get(tp, -1)
            looks[tp] = (position, applied)
            if position < end:
                return False
        previous, self._last_look = self._last_look, looks
        return all(
            applied == position or previous.get(tp) == (position, applied)
            for tp, (position, applied) in looks.items()
        )

    def _apply_safely(self, record: Record, message: Read) -> None:
        try:
            self._apply(record, message)
        except Exception as exc:
            # A message valid by its schema that still cannot be applied is one bad record,
            # like an undecodable one: counted as rejected, never the reader's end.
            metrics.SOURCE_RECORDS_REJECTED.labels(record.topic).inc()
            log.warning(
                "record not applied",
                extra={"topic": record.topic, "offset": record.offset, "error": repr(exc)},
            )
            if record.topic in TALLIED_TOPICS:
                self.letters.rejected(record.topic, record.partition, record.offset)

    def _apply(self, record: Record, message: Read) -> None:
        self.records += 1
        metrics.SOURCE_RECORDS.labels(record.topic).inc()
        if isinstance(message, InvalidMessage):
            if record.topic in TALLIED_TOPICS:
                self.letters.rejected(record.topic, record.partition, record.offset)
            else:
                log.info("unreadable record", extra={"topic": record.topic, "error": str(message)})
            return
        match message:
            case RegisteredContract():
                current = self.registry.get(message.name)
                if current is None or message.observed_at >= current.observed_at:
                    self.registry[message.name] = message
            case DeadLetter():
                self.letters.add(message)
            case Alert():
                self.feed.add(message)
                # Only alerts raised from now on are news; our own were delivered when raised.
                others = not message.alert_id.startswith(OWN_PREFIX)
                if others and self.caught_up.is_set() and self.on_new_alert is not None:
                    self.on_new_alert(message)
