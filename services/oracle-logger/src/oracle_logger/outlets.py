"""The oracle-logger's Kafka side as FastStream declares it: one broker, made by the shared
factory (`acks=all`, idempotence, the service's SASL login and TLS), and one publisher per
topic the service writes. The app publishes through these objects and docgen/asyncapi.py
documents the same objects, so the AsyncAPI document describes what runs."""

from __future__ import annotations

from dataclasses import dataclass

from faststream.kafka import KafkaBroker
from faststream.kafka.publisher.usecase import DefaultPublisher
from reservesync import kafka_broker
from reservesync.settings import KafkaSettings
from reservesync.topics import DLQ, ORACLE_OPERATIONS, ORACLE_STATE, Topic

SERVICE = "oracle-logger"


@dataclass(frozen=True)
class Outlets:
    broker: KafkaBroker
    operations: DefaultPublisher
    states: DefaultPublisher
    dead_letters: DefaultPublisher


def declare(settings: KafkaSettings) -> Outlets:
    """The broker and its publishers, declared but not connected (`broker.start()` connects)."""
    broker = kafka_broker.broker(settings)

    def publisher(topic: Topic) -> DefaultPublisher:
        return broker.publisher(
            topic.name, title=f"{SERVICE}:send:{topic.name}", schema=topic.value_type()
        )

    return Outlets(
        broker,
        operations=publisher(ORACLE_OPERATIONS),
        states=publisher(ORACLE_STATE),
        dead_letters=publisher(DLQ),
    )
