"""Reading a listener's last committed checkpoint back from its compacted, one-partition topic.

A listener writes its checkpoint in the same Kafka transaction as what it publishes (the
chain-listener's events, the bitcoin-listener's balances), so the last committed checkpoint is
exactly where its last commit ended.
"""

from __future__ import annotations

from aiokafka import TopicPartition

from reservesync import kafka
from reservesync.settings import KafkaSettings


async def latest(settings: KafkaSettings, topic: str, key: bytes) -> bytes | None:
    """The value of the last committed record under `key` (tombstones are skipped).

    A read_committed reader stops at the first offset of any open transaction, which may be
    another listener's (another chain, a test's) and end before our own last commit. So the
    topic is read up to the high watermark seen at the start: every transaction open then has
    ended (committed, aborted, or timed out) by the time the position gets there.
    """
    consumer = kafka.consumer(settings, group_id=None)
    await consumer.start()
    try:
        partition = TopicPartition(topic, 0)
        consumer.assign([partition])
        await consumer.seek_to_beginning(partition)
        value: bytes | None = None
        target: int | None = None
        while target is None or await consumer.position(partition) < target:
            batch = await consumer.getmany(partition, timeout_ms=500)
            for record in batch.get(partition, []):
                if record.key == key and record.value is not None:
                    value = record.value
            if target is None:
                target = consumer.highwater(partition)  # known after the first fetch answer
        return value
    finally:
        await consumer.stop()
