"""Health's readers of the registry, dead-letter and alert topics as FastStream subscribers:
one per topic, without a consumer group, from the beginning (`earliest`, nothing committed),
read_committed. The app reads through these subscribers and docgen/asyncapi.py documents them.

Each handler takes its topic's shared message model, which is what the AsyncAPI document shows.
A record is decoded by `reservesync.messages.decode` as everywhere else (the `schema` field
picks the model); one that does not decode never reaches a handler, so the `Unreadable`
middleware hands it to the sink, which counts it, instead of FastStream logging an error.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Protocol, TypeAlias

from aiokafka import ConsumerRecord
from faststream import BaseMiddleware
from faststream._internal.context import ContextRepo
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.kafka.subscriber.usecase import LogicSubscriber
from faststream.message import StreamMessage
from reservesync import kafka_broker
from reservesync.messages import (
    Alert,
    DeadLetter,
    InvalidMessage,
    Message,
    RegisteredContract,
    decode,
)
from reservesync.settings import KafkaSettings
from reservesync.topics import ALERTS, DLQ, REGISTRY, Topic

SERVICE = "health"
TOPICS: dict[str, Topic] = {t.name: t for t in (REGISTRY, DLQ, ALERTS)}
Record: TypeAlias = ConsumerRecord[bytes, bytes]
Read: TypeAlias = Message | InvalidMessage


class Sink(Protocol):
    def take(self, record: Record, message: Read) -> None:
        """Apply one record's message, or count it as rejected; never raises."""


def read(record: Record) -> Read:
    """Never raises: a record nothing can read is counted as rejected, and reading goes on."""
    try:
        return decode(record.value, TOPICS[record.topic].carries)
    except InvalidMessage as exc:
        return exc
    except Exception as exc:  # no record may stop the reader (and keep /readyz at 503)
        return InvalidMessage(f"unreadable: {type(exc).__name__}: {exc}")


async def decode_value(message: StreamMessage[Record]) -> Message:
    """FastStream's decoder for these topics: the shared models' own reading of the value."""
    outcome = read(message.raw_message)
    if isinstance(outcome, InvalidMessage):
        raise outcome
    return outcome


class Unreadable(BaseMiddleware[Any, Record]):
    """Gives the sink the records that could not be decoded, and ends their handling there."""

    def __init__(self, msg: Record, /, *, context: ContextRepo, sink: Sink) -> None:
        super().__init__(msg, context=context)
        self.sink = sink

    async def after_processed(
        self,
        exc_type: type[BaseException] | None = None,
        exc_val: BaseException | None = None,
        exc_tb: TracebackType | None = None,
    ) -> bool:
        if isinstance(exc_val, InvalidMessage):
            self.sink.take(self.msg, exc_val)
            return True
        return False


@dataclass(frozen=True)
class Sources:
    broker: KafkaBroker
    subscribers: tuple[LogicSubscriber[Any], ...]


def declare(settings: KafkaSettings, sink: Sink) -> Sources:
    """The broker (it only consumes) and one subscriber per topic, not yet started."""
    broker = kafka_broker.broker(
        settings, consumer_only=True, middlewares=(functools.partial(Unreadable, sink=sink),)
    )

    def subscriber(topic: Topic) -> LogicSubscriber[Any]:
        return broker.subscriber(
            topic.name,
            group_id=None,
            auto_offset_reset="earliest",
            # Aborted transactions of a killed producer must never be seen.
            isolation_level="read_committed",
            max_partition_fetch_bytes=4 * 1024 * 1024,
            title=f"{SERVICE}:receive:{topic.name}",
        )

    registry, letters, alerts = subscriber(REGISTRY), subscriber(DLQ), subscriber(ALERTS)

    @registry(decoder=decode_value)
    async def on_registration(registration: RegisteredContract, message: KafkaMessage) -> None:
        sink.take(message.raw_message, registration)

    @letters(decoder=decode_value)
    async def on_dead_letter(letter: DeadLetter, message: KafkaMessage) -> None:
        sink.take(message.raw_message, letter)

    @alerts(decoder=decode_value)
    async def on_alert(alert: Alert, message: KafkaMessage) -> None:
        sink.take(message.raw_message, alert)

    return Sources(broker, (registry, letters, alerts))
