"""Publishes one block range's events and its checkpoint in a single Kafka transaction."""

from __future__ import annotations

from collections.abc import Sequence

from aiokafka import AIOKafkaProducer
from reservesync import kafka
from reservesync.messages import ChainEvent, Message
from reservesync.settings import KafkaSettings
from reservesync.topics import CHAIN_CHECKPOINTS, CHAIN_EVENTS, DLQ

from chain_listener.checkpoint import Checkpoint, checkpoint_key


class RangePublisher:
    def __init__(self, settings: KafkaSettings, transactional_id: str) -> None:
        # The transactional id fences an older instance still running (a zombie after a
        # network partition): its next commit fails instead of duplicating our events.
        self.producer: AIOKafkaProducer = kafka.producer(
            settings, transactional_id=transactional_id
        )

    async def start(self) -> None:
        await self.producer.start()

    async def stop(self) -> None:
        await self.producer.stop()

    async def publish(
        self,
        events: Sequence[ChainEvent],
        checkpoint: Checkpoint,
        dead_letters: Sequence[tuple[bytes | None, Message]] = (),
    ) -> None:
        async with self.producer.transaction():
            for event in events:
                await self.producer.send(
                    CHAIN_EVENTS.name, event.to_json(), key=event.partition_key.encode()
                )
            for key, letter in dead_letters:
                await self.producer.send(DLQ.name, letter.to_json(), key=key)
            await self.producer.send(
                CHAIN_CHECKPOINTS.name,
                checkpoint.model_dump_json().encode(),
                key=checkpoint_key(checkpoint.chain_id),
            )

    async def publish_one(self, topic: str, key: bytes, message: Message) -> None:
        async with self.producer.transaction():
            await self.producer.send(topic, message.to_json(), key=key)
