"""The listener's progress, kept in Kafka (compacted topic) so it resumes without Postgres.

A checkpoint is written in the same Kafka transaction as the events of the range it closes:
either both are visible to read_committed readers or neither is. It carries the hashes of the
last published blocks, so a reorg that happened while the listener was down is found at the
next start exactly as one that happens while it runs.
"""

from __future__ import annotations

from aiokafka import TopicPartition
from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt, PositiveInt
from reservesync import kafka
from reservesync.messages import BlockRef
from reservesync.settings import KafkaSettings
from reservesync.topics import CHAIN_CHECKPOINTS


class Checkpoint(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    chain_id: PositiveInt
    next_block: NonNegativeInt
    """The first block not yet published."""
    recent_blocks: list[BlockRef] = Field(default_factory=list, max_length=10_000)
    """The last published blocks, oldest first, ending at `next_block - 1`."""
    head_seen: NonNegativeInt = 0
    """The highest head the listener has seen: how deep a reorg found later reaches."""
    range_size: PositiveInt | None = None
    """The eth_getLogs block count that last worked, so a restart does not learn it again."""


async def load(settings: KafkaSettings, key: bytes) -> Checkpoint | None:
    """The last committed checkpoint under `key`.

    A read_committed reader stops at the first offset of any open transaction, which may be
    another listener's (another chain, a test's) and end before our own last commit. So the
    topic is read up to the high watermark seen at the start: every transaction open then has
    ended (committed, aborted, or timed out) by the time the position gets there.
    """
    consumer = kafka.consumer(settings, group_id=None)
    await consumer.start()
    try:
        partition = TopicPartition(CHAIN_CHECKPOINTS.name, 0)
        consumer.assign([partition])
        await consumer.seek_to_beginning(partition)
        latest: Checkpoint | None = None
        target: int | None = None
        while target is None or await consumer.position(partition) < target:
            batch = await consumer.getmany(partition, timeout_ms=500)
            for record in batch.get(partition, []):
                if record.key == key and record.value is not None:
                    latest = Checkpoint.model_validate_json(record.value)
            if target is None:
                target = consumer.highwater(partition)  # known after the first fetch answer
        return latest
    finally:
        await consumer.stop()
