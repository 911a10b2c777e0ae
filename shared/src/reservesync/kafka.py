"""Kafka clients configured the way the contract requires (idempotent, acks=all, read_committed)."""

from __future__ import annotations

import logging

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from reservesync.settings import KafkaSettings
from reservesync.topics import ALL_TOPICS, Topic

log = logging.getLogger(__name__)


def producer(
    settings: KafkaSettings, *, transactional_id: str | None = None, linger_ms: int = 5
) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        client_id=settings.kafka_client_id,
        enable_idempotence=True,
        acks="all",
        transactional_id=transactional_id,
        linger_ms=linger_ms,
        max_batch_size=1024 * 1024,
        compression_type="lz4",
        request_timeout_ms=30_000,
    )


def consumer(
    settings: KafkaSettings, *topics: str, group_id: str | None, **overrides: object
) -> AIOKafkaConsumer:
    options: dict[str, object] = {
        "bootstrap_servers": settings.kafka_bootstrap_servers,
        "client_id": settings.kafka_client_id,
        "group_id": group_id,
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        # Aborted transactions of a killed producer must never be seen downstream.
        "isolation_level": "read_committed",
        "max_partition_fetch_bytes": 4 * 1024 * 1024,
    }
    options.update(overrides)
    return AIOKafkaConsumer(*topics, **options)


async def ensure_topics(settings: KafkaSettings, topics: tuple[Topic, ...] = ALL_TOPICS) -> None:
    """Create the contract's topics with their cleanup policies; existing ones are left alone."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in topics if t.name not in existing]
        for topic in missing:
            try:
                await admin.create_topics(
                    [
                        NewTopic(
                            topic.name,
                            topic.partitions,
                            settings.kafka_replication_factor,
                            topic_configs=topic.configs,
                        )
                    ]
                )
                log.info("created topic", extra={"topic": topic.name})
            except TopicAlreadyExistsError:
                pass
    finally:
        await admin.close()
