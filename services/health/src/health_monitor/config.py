"""health settings (environment names in capitals, e.g. `HEALTH_INTERVAL_S`)."""

from __future__ import annotations

from typing import Self

from pydantic import Field, model_validator
from reservesync.settings import (
    ChainSettings,
    DatabaseSettings,
    HttpSettings,
    KafkaSettings,
    NameList,
)


class Settings(KafkaSettings, DatabaseSettings, ChainSettings, HttpSettings):
    health_interval_s: float = Field(5.0, gt=0, description="seconds between two evaluations")
    health_groups: NameList = Field(
        default_factory=lambda: ["rbtc-db-writer"],
        description="consumer groups whose lag is watched; the first is the db-writer whose "
        "database is scored",
    )
    health_lag_window: int = Field(
        10, ge=2, le=1000, description="offset samples per partition in Burrow's sliding window"
    )
    health_history_s: float = Field(
        600, gt=0, description="how far back the dashboard's lag and score history reach"
    )
    health_warn_score: float = Field(95, ge=0, le=100)
    health_critical_score: float = Field(80, ge=0, le=100)
    health_alert_raise_after_s: float = Field(
        30, ge=0, description="how long a condition must hold before its alert fires"
    )
    health_alert_resolve_after_s: float = Field(
        60, ge=0, description="how long a condition must be gone before its alert resolves"
    )
    health_dlq_window_s: float = Field(
        3600, gt=0, description="how long an unreadable dead letter counts against its component"
    )
    health_dlq_growth_s: float = Field(
        300, gt=0, description="dead letters newer than this make the DLQ-growth alert"
    )
    health_webhook_url: str | None = Field(None, description="JSON POST of every alert, if set")
    health_webhook_timeout_s: float = Field(5, gt=0)
    health_webhook_attempts: int = Field(6, ge=1, le=20)
    health_reorg_window_blocks: int = Field(
        1024, ge=1, description="blocks below the highest seen that a reorg may still orphan"
    )
    health_code_cache_s: float = Field(
        300, gt=0, description="how long a contract's code presence on chain is trusted"
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if not self.health_groups:
            raise ValueError("HEALTH_GROUPS needs at least the db-writer's group")
        if self.health_critical_score > self.health_warn_score:
            raise ValueError("HEALTH_CRITICAL_SCORE must not exceed HEALTH_WARN_SCORE")
        return self

    @property
    def sink_group(self) -> str:
        return self.health_groups[0]
