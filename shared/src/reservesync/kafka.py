"""Kafka clients configured the way the contract requires (idempotent, acks=all, read_committed),
each authenticated as the principal its settings name. Every client in the repository is made
here: one raw `AIOKafkaProducer(...)` would connect without credentials and be refused."""

from __future__ import annotations

import logging

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from aiokafka.helpers import create_ssl_context

from reservesync.settings import KafkaSettings
from reservesync.topics import ALL_TOPICS, Topic

log = logging.getLogger(__name__)


def security(settings: KafkaSettings) -> dict[str, object]:
    """The connection options every client shares: bootstrap servers, TLS and SASL."""
    options: dict[str, object] = {
        "bootstrap_servers": settings.kafka_bootstrap_servers,
        "client_id": settings.kafka_client_id,
        "security_protocol": settings.kafka_security_protocol,
    }
    if settings.kafka_security_protocol in ("SSL", "SASL_SSL"):
        cafile = settings.kafka_ssl_cafile
        options["ssl_context"] = create_ssl_context(cafile=str(cafile) if cafile else None)
    if settings.kafka_security_protocol.startswith("SASL_"):
        password = settings.kafka_sasl_password
        options["sasl_mechanism"] = settings.kafka_sasl_mechanism
        options["sasl_plain_username"] = settings.kafka_sasl_username
        options["sasl_plain_password"] = password.get_secret_value() if password else None
    return options


def producer(
    settings: KafkaSettings, *, transactional_id: str | None = None, linger_ms: int = 5
) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        **security(settings),
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
        **security(settings),
        "group_id": group_id,
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        # Aborted transactions of a killed producer must never be seen downstream.
        "isolation_level": "read_committed",
        "max_partition_fetch_bytes": 4 * 1024 * 1024,
    }
    options.update(overrides)
    return AIOKafkaConsumer(*topics, **options)


def admin(settings: KafkaSettings, *, request_timeout_ms: int = 40_000) -> AIOKafkaAdminClient:
    return AIOKafkaAdminClient(**security(settings), request_timeout_ms=request_timeout_ms)


async def ensure_topics(settings: KafkaSettings, topics: tuple[Topic, ...] = ALL_TOPICS) -> None:
    """Create the contract's topics with their cleanup policies; existing ones are left alone."""
    client = admin(settings)
    await client.start()
    try:
        existing = set(await client.list_topics())
        missing = [t for t in topics if t.name not in existing]
        for topic in missing:
            try:
                await client.create_topics(
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
        await client.close()
