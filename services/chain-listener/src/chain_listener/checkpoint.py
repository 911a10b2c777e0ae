"""The listener's progress, kept in Kafka (compacted topic) so it resumes without Postgres.

A checkpoint is written in the same Kafka transaction as the events of the range it closes:
either both are visible to read_committed readers or neither is.
"""

from __future__ import annotations

import asyncio

from aiokafka import TopicPartition
from pydantic import BaseModel, ConfigDict, NonNegativeInt
from reservesync import kafka
from reservesync.settings import KafkaSettings
from reservesync.topics import CHAIN_CHECKPOINTS


class Checkpoint(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    chain_id: int
    next_block: NonNegativeInt
    """The first block not yet published."""


def checkpoint_key(chain_id: int) -> bytes:
    return f"chain-listener/{chain_id}".encode()


async def load(settings: KafkaSettings, chain_id: int) -> Checkpoint | None:
    """Read the compacted topic to its end and keep the last checkpoint for this chain."""
    consumer = kafka.consumer(settings, group_id=None)
    await consumer.start()
    try:
        partition = TopicPartition(CHAIN_CHECKPOINTS.name, 0)
        consumer.assign([partition])
        await consumer.seek_to_beginning(partition)
        end = (await consumer.end_offsets([partition]))[partition]
        latest: Checkpoint | None = None
        key = checkpoint_key(chain_id)
        while await consumer.position(partition) < end:
            batch = await consumer.getmany(partition, timeout_ms=1000)
            for record in batch.get(partition, []):
                if record.key == key and record.value is not None:
                    latest = Checkpoint.model_validate_json(record.value)
            if not batch:
                # Only control records (transaction markers) remain before `end`.
                await asyncio.sleep(0)
                if await consumer.position(partition) >= end:
                    break
        return latest
    finally:
        await consumer.stop()
