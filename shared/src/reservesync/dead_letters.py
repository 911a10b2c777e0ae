"""Sending what a consumer cannot accept to `rbtc.dlq.v1`, whole and with the reason."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Protocol

from aiokafka import AIOKafkaProducer

from reservesync.messages import DeadLetter
from reservesync.messages.dlq import MAX_KEPT_BYTES
from reservesync.topics import DLQ


class ConsumedRecord(Protocol):
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


class ConflictingDuplicate(Exception):
    """A message whose idempotency key was already written with other content: the first
    stays, this one is dead-lettered so that it is never dropped in silence."""

    def __init__(self, what: str) -> None:
        super().__init__(f"{CONFLICTING_DUPLICATE}: {what}")


CONFLICTING_DUPLICATE = "conflicting duplicate"


def is_conflicting_duplicate(letter: DeadLetter) -> bool:
    # The start of `error` is ours (the exception's name), never the record's text.
    return letter.error.startswith(f"{ConflictingDuplicate.__name__}: ")


def _storable(text: str) -> str:
    """Text any JSON reader and PostgreSQL's jsonb accept: an error message may quote the
    record, NUL and lone surrogates included."""
    return text.encode("utf-8", "replace").decode().replace("\x00", "\\0")


def dead_letter(record: ConsumedRecord, error: BaseException, service: str) -> DeadLetter:
    """Never raises: whatever the record holds, it becomes a valid dead letter."""
    value = record.value
    kept = base64.b64encode(value[:MAX_KEPT_BYTES]).decode() if value is not None else None
    key = _storable(record.key.decode(errors="replace"))[:4096] if record.key is not None else None
    return DeadLetter(
        source_topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        key=key,
        value_base64=kept,
        value_size=len(value) if value is not None else None,
        value_sha256=hashlib.sha256(value).hexdigest() if value is not None else None,
        value_truncated=value is not None and len(value) > MAX_KEPT_BYTES,
        error=_storable(f"{type(error).__name__}: {error}")[:4096],
        service=service,
        failed_at=datetime.now(UTC),
    )


def record_key(letter: DeadLetter) -> bytes | None:
    """The dead letter's Kafka key: the key of the record it keeps, none if that had none."""
    return (letter.key or "").encode() or None


async def publish(producer: AIOKafkaProducer, letters: Sequence[DeadLetter]) -> None:
    """Publish and wait for acks: the caller commits its offsets only after this returns."""
    futures = [
        await producer.send(DLQ.name, letter.to_json(), key=record_key(letter))
        for letter in letters
    ]
    for future in futures:
        await future
