"""Reads the small topics health shows as they are (the registry, dead letters, alerts), from
the beginning and then as they come, into the registry, the dead-letter book and the alert feed.

The event and operation topics are not read: what is scored is the world (the chain and the
oracle, read by health itself) against the database, so a start costs the same however long
those topics are. It reads read_committed without a consumer group: nothing is committed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import TypeAlias

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from reservesync import kafka
from reservesync.contracts import SystemContract
from reservesync.messages import (
    Alert,
    DeadLetter,
    InvalidMessage,
    Message,
    RegisteredContract,
    decode,
)
from reservesync.settings import KafkaSettings
from reservesync.topics import (
    ALERTS,
    DLQ,
    REGISTRY,
    Topic,
)

from health_monitor import metrics
from health_monitor.domain.alert_feed import AlertFeed
from health_monitor.domain.alerting import OWN_PREFIX
from health_monitor.domain.dead_letters import TALLIED_TOPICS, DeadLetterBook

log = logging.getLogger(__name__)
TOPICS: dict[str, Topic] = {t.name: t for t in (REGISTRY, DLQ, ALERTS)}
BATCH = 5000
POLL_MS = 300
STILL_S = 3 * POLL_MS / 1000
"""A position unmoved this long against an unchanged log end has nothing left to read."""
Record: TypeAlias = ConsumerRecord[bytes, bytes]


Read = Message | InvalidMessage


def read(record: Record) -> Read:
    """Never raises: a record nothing can read is counted as rejected, and reading goes on."""
    try:
        return decode(record.value, TOPICS[record.topic].carries)
    except InvalidMessage as exc:
        return exc
    except Exception as exc:  # no record may stop the reader (and keep /readyz at 503)
        return InvalidMessage(f"unreadable: {type(exc).__name__}: {exc}")


class SourceReader:
    def __init__(
        self,
        settings: KafkaSettings,
        letters: DeadLetterBook,
        feed: AlertFeed,
        on_new_alert: Callable[[Alert], None] | None = None,
    ) -> None:
        self.consumer: AIOKafkaConsumer = kafka.consumer(settings, group_id=None)
        self.settings = settings
        self.registry: dict[SystemContract, RegisteredContract] = {}
        """The newest registration of each system contract."""
        self.letters = letters
        self.feed = feed
        self.on_new_alert = on_new_alert
        self.caught_up = asyncio.Event()
        """Set once everything published before the start has been read."""
        self._first_ends: dict[TopicPartition, int] = {}
        self.records = 0
        self.failure: str | None = None

    async def run(self, stop: asyncio.Event) -> None:
        try:
            await self._read(stop)
        except Exception as exc:
            # Readiness reports it, so the orchestrator restarts the service.
            self.failure = f"{type(exc).__name__}: {exc}"
            log.exception("reading the sources failed")
            raise

    async def _read(self, stop: asyncio.Event) -> None:
        await self.consumer.start()
        try:
            partitions = await self._assign()
            self._first_ends = dict(await self.consumer.end_offsets(partitions))
            while not stop.is_set():
                batch = await self.consumer.getmany(timeout_ms=POLL_MS, max_records=BATCH)
                if batch:
                    decoded = await asyncio.to_thread(_read_all, batch)
                    for record, message in decoded:
                        self._apply_safely(record, message)
                if not self.caught_up.is_set() and await self._reached(self._first_ends):
                    log.info("sources read", extra={"records": self.records})
                    self.caught_up.set()
        finally:
            await self.consumer.stop()

    async def _assign(self) -> list[TopicPartition]:
        admin = kafka.admin(self.settings)
        await admin.start()
        try:
            described = await admin.describe_topics(list(TOPICS))
        finally:
            await admin.close()
        missing = [d["topic"] for d in described if d["error_code"] != 0]
        if missing:
            raise RuntimeError(f"topics missing: {', '.join(missing)} (run ensure_topics)")
        partitions = [
            TopicPartition(d["topic"], p["partition"])
            for d in described
            for p in sorted(d["partitions"], key=lambda p: int(p["partition"]))
        ]
        self.consumer.assign(partitions)
        await self.consumer.seek_to_beginning(*partitions)
        return partitions

    async def _reached(self, ends: Mapping[TopicPartition, int]) -> bool:
        for tp, end in ends.items():
            if await self.consumer.position(tp) < end:
                return False
        return True

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


def _read_all(batch: Mapping[TopicPartition, list[Record]]) -> list[tuple[Record, Read]]:
    return [(record, read(record)) for records in batch.values() for record in records]
