"""Reading topics back: whole topics, and how many records a sink has yet to read (the demo
waits on it, the tests check producers and sinks with it).

Positions alone cannot say when a partition is read: transaction markers and aborted records
occupy offsets that a read_committed reader never receives, so a partition that ends in them
never shows its position at the end offset. A partition is read when its position reached the
end, or when the broker has answered a fetch for it (its last stable offset is known) and
nothing more came for a few seconds. Waiting is bounded by a deadline, never by a count of
quick polls: on a busy machine the first fetch alone can take seconds.
"""

from __future__ import annotations

import time

from aiokafka import AIOKafkaConsumer, TopicPartition
from reservesync import kafka
from reservesync.settings import KafkaSettings
from reservesync.topics import ALL_TOPICS

READ_WITHIN_S = 120.0
QUIET_S = 3.0
"""How long a partition the broker has answered for stays silent before only markers are
taken to be left (a next fetch in flight answers well within it)."""

Record = tuple[bytes | None, bytes | None, int, int]


def _reader(bootstrap: str) -> AIOKafkaConsumer:
    # Credentials from the environment: the admin's, in the tools and tests of the stack.
    return kafka.consumer(KafkaSettings(kafka_bootstrap_servers=bootstrap), group_id=None)


async def _read(
    consumer: AIOKafkaConsumer,
    ends: dict[TopicPartition, int],
    *,
    first_only: bool = False,
) -> list[Record]:
    """The committed records of the assigned partitions up to `ends`; with `first_only`, a
    partition is done at its first record (enough to know it is not caught up)."""
    records: list[Record] = []
    pending = {tp for tp, end in ends.items() if await consumer.position(tp) < end}
    heard = dict.fromkeys(pending, time.monotonic())
    deadline = time.monotonic() + READ_WITHIN_S
    while pending:
        if time.monotonic() > deadline:
            unread = ", ".join(f"{tp.topic}[{tp.partition}]" for tp in sorted(pending))
            raise TimeoutError(f"partitions not read within {READ_WITHIN_S:.0f}s: {unread}")
        batch = await consumer.getmany(timeout_ms=300)
        for tp, items in batch.items():
            records.extend((r.key, r.value, tp.partition, r.offset) for r in items)
            if items and first_only:
                pending.discard(tp)
        now = time.monotonic()
        for tp in list(pending):
            if await consumer.position(tp) >= ends[tp]:
                pending.discard(tp)
            elif batch.get(tp) or consumer.last_stable_offset(tp) is None:
                heard[tp] = now
            elif now - heard[tp] >= QUIET_S:
                pending.discard(tp)
    return records


async def read_all(bootstrap: str, topic: str) -> list[Record]:
    """Every committed record of `topic` as (key, value, partition, offset)."""
    count = next(t.partitions for t in ALL_TOPICS if t.name == topic)
    consumer = _reader(bootstrap)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(count)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        return await _read(consumer, await consumer.end_offsets(partitions))
    finally:
        await consumer.stop()


async def records_from(bootstrap: str, offsets: dict[tuple[str, int], int]) -> int:
    """0 when no committed record sits at or after the given offsets (a sink is caught up);
    otherwise how many were seen, at least one per partition that has any (a lower bound)."""
    consumer = _reader(bootstrap)
    await consumer.start()
    try:
        partitions = [TopicPartition(t, p) for t, p in offsets]
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        waiting = {tp: end for tp, end in ends.items() if offsets[(tp.topic, tp.partition)] < end}
        if not waiting:
            return 0
        consumer.assign(list(waiting))
        for tp in waiting:
            consumer.seek(tp, offsets[(tp.topic, tp.partition)])
        return len(await _read(consumer, waiting, first_only=True))
    finally:
        await consumer.stop()
