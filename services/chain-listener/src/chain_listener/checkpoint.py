"""The listener's progress, kept in Kafka (compacted topic) so it resumes without Postgres.

A checkpoint is written in the same Kafka transaction as the events of the range it closes:
either both are visible to read_committed readers or neither is. It carries the hashes of the
last published blocks, so a reorg that happened while the listener was down is found at the
next start exactly as one that happens while it runs.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt, PositiveInt
from reservesync import checkpoints
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
    """The last committed checkpoint under `key` (see `reservesync.checkpoints.latest`)."""
    value = await checkpoints.latest(settings, CHAIN_CHECKPOINTS.name, key)
    return Checkpoint.model_validate_json(value) if value is not None else None
