"""Messages of `rbtc.dlq.v1`: what a consumer could not accept, kept whole with the reason."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, NonNegativeInt

from reservesync.messages.base import Message
from reservesync.types import UtcDatetime


class DeadLetter(Message):
    SCHEMA = "dlq.record/v1"
    schema_: Literal["dlq.record/v1"] = Field("dlq.record/v1", alias="schema")
    source_topic: str
    partition: NonNegativeInt
    offset: NonNegativeInt
    key: str | None
    value_base64: str | None
    error: str = Field(max_length=4096)
    service: str
    failed_at: UtcDatetime
