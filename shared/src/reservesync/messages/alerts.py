"""Messages of `rbtc.alerts.v1`."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import Field

from reservesync.messages.base import Message
from reservesync.types import UtcDatetime


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class AlertState(StrEnum):
    FIRING = "firing"
    RESOLVED = "resolved"


class Alert(Message):
    SCHEMA = "alert/v1"
    schema_: Literal["alert/v1"] = Field("alert/v1", alias="schema")
    alert_id: str
    kind: str
    severity: Severity
    state: AlertState
    summary: str = Field(max_length=2048)
    details: dict[str, str | int | float | bool | None] = Field(default_factory=dict)
    raised_at: UtcDatetime
