"""Publishes what one block range (or one reorg) produced, and its checkpoint, in a single
Kafka transaction: consumers reading read_committed see all of it or none of it."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import murmur2
from reservesync import kafka
from reservesync.event_encoding import EncodedEvent
from reservesync.messages import Alert, ChainReorg, DeadLetter, RegisteredContract
from reservesync.topics import ALERTS, CHAIN_CHECKPOINTS, CHAIN_EVENTS, DLQ, REGISTRY

from chain_listener.checkpoint import Checkpoint
from chain_listener.config import Settings

PRODUCER_HEADER = "producer"
"""Record header naming the listener (its transactional id) that published a record: two
listeners of one chain (a standby, a test's) publish the same events, and this tells whose
copy a record is."""

Record = tuple[bytes | None, bytes, int]
"""(key, value, partition)"""


@functools.lru_cache(maxsize=1 << 16)
def key_hash(key: bytes) -> int:
    """Kafka's default partitioner hash (murmur2, positive), computed once per user: aiokafka's
    is pure Python and was a large part of publishing a backfill."""
    return int(murmur2(key)) & 0x7FFFFFFF


@dataclass(frozen=True)
class Outgoing:
    checkpoint: Checkpoint
    events: Sequence[EncodedEvent] = ()
    dead_letters: Sequence[DeadLetter] = ()
    reorg: ChainReorg | None = None
    alerts: Sequence[Alert] = ()


class RangePublisher:
    def __init__(self, settings: Settings) -> None:
        # The transactional id fences an older instance still running (a zombie after a
        # network partition): its next commit fails instead of duplicating our events. And
        # starting the producer aborts whatever transaction a killed predecessor left open.
        self.producer: AIOKafkaProducer = kafka.producer(
            settings, transactional_id=settings.producer_transactional_id
        )
        self.checkpoint_key = settings.checkpoint_key
        self.headers = [(PRODUCER_HEADER, settings.producer_transactional_id.encode())]
        self.event_partitions: list[int] = []

    async def start(self) -> None:
        await self.producer.start()
        self.event_partitions = sorted(await self.producer.partitions_for(CHAIN_EVENTS.name))

    async def stop(self) -> None:
        await self.producer.stop()

    async def publish(self, out: Outgoing) -> None:
        async with self.producer.transaction():
            if out.reorg is not None:
                # First, and on every partition: each partition's consumer must learn of the
                # reorg before any replacement event that lands on its partition.
                notice = out.reorg.to_json()
                await self._send(
                    CHAIN_EVENTS.name, [(None, notice, p) for p in self.event_partitions]
                )
            await self._send(CHAIN_EVENTS.name, map(self._event_record, out.events))
            for letter in out.dead_letters:
                original_key = letter.key.encode() if letter.key else None
                await self.producer.send(
                    DLQ.name, letter.to_json(), key=original_key, headers=self.headers
                )
            for alert in out.alerts:
                await self.producer.send(
                    ALERTS.name, alert.to_json(), key=alert.alert_id.encode(), headers=self.headers
                )
            await self.producer.send(
                CHAIN_CHECKPOINTS.name,
                out.checkpoint.model_dump_json().encode(),
                key=self.checkpoint_key,
            )

    async def publish_registry(self, records: Sequence[RegisteredContract]) -> None:
        async with self.producer.transaction():
            for record in records:
                await self.producer.send(
                    REGISTRY.name,
                    record.to_json(),
                    key=record.name.value.encode(),
                    headers=self.headers,
                )

    def _event_record(self, event: EncodedEvent) -> Record:
        # The partition the default partitioner would choose for the key.
        partition = self.event_partitions[key_hash(event.key) % len(self.event_partitions)]
        return event.key, event.value, partition

    async def _send(self, topic: str, records: Iterable[Record]) -> None:
        """Records appended to one batch per partition, each handed over when full: a
        backfill's thousands of events cost no future and no queue round trip apiece."""
        batches: dict[int, Any] = {}
        for key, value, partition in records:
            batch = batches.get(partition) or self.producer.create_batch()
            if batch.append(key=key, value=value, timestamp=None, headers=self.headers) is None:
                await self.producer.send_batch(batch, topic, partition=partition)
                batch = self.producer.create_batch()
                batch.append(key=key, value=value, timestamp=None, headers=self.headers)
            batches[partition] = batch
        for partition, batch in batches.items():
            await self.producer.send_batch(batch, topic, partition=partition)
