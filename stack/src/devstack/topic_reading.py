"""Reading topics back: whole topics, and how many records a sink has yet to read (the demo
waits on it, the tests check producers and sinks with it)."""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer, TopicPartition
from reservesync import kafka
from reservesync.settings import KafkaSettings
from reservesync.topics import ALL_TOPICS


def _reader(bootstrap: str) -> AIOKafkaConsumer:
    # Credentials from the environment: the admin's, in the tools and tests of the stack.
    return kafka.consumer(KafkaSettings(kafka_bootstrap_servers=bootstrap), group_id=None)


async def read_all(bootstrap: str, topic: str) -> list[tuple[bytes | None, bytes | None, int, int]]:
    """Every committed record of `topic` as (key, value, partition, offset)."""
    count = next(t.partitions for t in ALL_TOPICS if t.name == topic)
    consumer = _reader(bootstrap)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(count)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        records: list[tuple[bytes | None, bytes | None, int, int]] = []
        pending = set(partitions)
        idle_polls = 0
        # A partition may end in transaction markers that are never returned as records, so
        # stop after a few empty polls even if a position has not reached the end offset.
        while pending and idle_polls < 10:
            batch = await consumer.getmany(timeout_ms=300)
            for tp, items in batch.items():
                records.extend((r.key, r.value, tp.partition, r.offset) for r in items)
            for tp in list(pending):
                if await consumer.position(tp) >= ends[tp]:
                    pending.discard(tp)
            idle_polls = 0 if batch else idle_polls + 1
        return records
    finally:
        await consumer.stop()


async def records_from(bootstrap: str, offsets: dict[tuple[str, int], int]) -> int:
    """How many committed records sit at or after the given offsets (0: a sink is caught up).

    Positions alone cannot say it: transaction markers and aborted records occupy offsets
    that no reader ever receives."""
    consumer = _reader(bootstrap)
    await consumer.start()
    try:
        partitions = [TopicPartition(t, p) for t, p in offsets]
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        waiting = [tp for tp in partitions if offsets[(tp.topic, tp.partition)] < ends[tp]]
        if not waiting:
            return 0
        consumer.assign(waiting)
        for tp in waiting:
            consumer.seek(tp, offsets[(tp.topic, tp.partition)])
        found = 0
        for _ in range(3):
            batch = await consumer.getmany(timeout_ms=300)
            found += sum(len(records) for records in batch.values())
        return found
    finally:
        await consumer.stop()
