"""Messages of `rbtc.dlq.v1`: what a consumer could not accept, kept whole with the reason."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field, NonNegativeInt

from reservesync.messages.base import Message
from reservesync.types import UtcDatetime

MAX_KEPT_BYTES = 256 * 1024
"""How much of a rejected value a dead letter carries; the whole stays at its source offset."""


class DeadLetter(Message):
    model_config = ConfigDict(**{**Message.model_config, "str_max_length": 2 * MAX_KEPT_BYTES})
    SCHEMA = "dlq.record/v1"
    schema_: Literal["dlq.record/v1"] = Field("dlq.record/v1", alias="schema")
    source_topic: str
    partition: NonNegativeInt
    offset: NonNegativeInt
    key: str | None = Field(max_length=4096)
    value_base64: str | None
    value_size: NonNegativeInt | None = None
    value_sha256: str | None = None
    value_truncated: bool = False
    error: str = Field(max_length=4096)
    service: str
    failed_at: UtcDatetime
