"""Reading back what one test's listener published: records after a cursor, with headers.

Other listeners (the session pipeline's, earlier tests') publish the same chain's events on
the same topics, so a test keeps only the records its own listener made: those carrying its
transactional id in the `producer` header.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from chain_listener.publisher import PRODUCER_HEADER
from reservesync import kafka
from reservesync.settings import KafkaSettings
from reservesync.topics import ALL_TOPICS


@dataclass(frozen=True)
class Record:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    producer: str | None

    def json(self) -> dict[str, Any]:
        assert self.value is not None, f"tombstone at {self.partition}:{self.offset}"
        document: dict[str, Any] = json.loads(self.value)
        return document


class TopicCursor:
    """Marks a topic's end now; `read()` returns the committed records written since."""

    def __init__(self, bootstrap: str, topic: str, starts: dict[TopicPartition, int]) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.starts = starts

    @classmethod
    async def at_end(cls, bootstrap: str, topic: str) -> TopicCursor:
        count = next(t.partitions for t in ALL_TOPICS if t.name == topic)
        partitions = [TopicPartition(topic, p) for p in range(count)]
        consumer = _consumer(bootstrap)
        await consumer.start()
        try:
            return cls(bootstrap, topic, await consumer.end_offsets(partitions))
        finally:
            await consumer.stop()

    async def read(self, producer: str | None = None) -> list[Record]:
        """Records since the cursor (of `producer` only, when given), in offset order per
        partition."""
        consumer = _consumer(self.bootstrap)
        await consumer.start()
        try:
            partitions = list(self.starts)
            consumer.assign(partitions)
            for partition, offset in self.starts.items():
                consumer.seek(partition, offset)
            ends = await consumer.end_offsets(partitions)
            records: list[Record] = []
            idle_polls = 0
            # A partition may end in transaction markers that are never returned as records:
            # stop when every position reached its end, or after a few empty polls.
            while idle_polls < 10 and not await _at_ends(consumer, ends):
                batch = await consumer.getmany(timeout_ms=300)
                idle_polls = 0 if batch else idle_polls + 1
                for items in batch.values():
                    records.extend(_record(item) for item in items)
        finally:
            await consumer.stop()
        records.sort(key=lambda r: (r.partition, r.offset))
        return [r for r in records if producer is None or r.producer == producer]

    async def messages(self, producer: str, schema: str) -> list[dict[str, Any]]:
        """The JSON messages of `schema` that `producer` published since the cursor."""
        return of_schema(await self.read(producer), schema)


async def _at_ends(consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int]) -> bool:
    return all([await consumer.position(p) >= end for p, end in ends.items()])


def _consumer(bootstrap: str) -> AIOKafkaConsumer:
    return kafka.consumer(
        KafkaSettings(kafka_bootstrap_servers=bootstrap),
        group_id=None,
        max_partition_fetch_bytes=8 * 1024 * 1024,
    )


def _record(item: Any) -> Record:
    headers = dict(item.headers or ())
    producer = headers.get(PRODUCER_HEADER)
    return Record(
        topic=item.topic,
        partition=item.partition,
        offset=item.offset,
        key=item.key,
        value=item.value,
        producer=producer.decode() if producer is not None else None,
    )


def of_schema(records: list[Record], schema: str) -> list[dict[str, Any]]:
    return [r.json() for r in records if r.value is not None and r.json()["schema"] == schema]
