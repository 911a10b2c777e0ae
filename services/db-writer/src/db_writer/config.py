"""db-writer settings."""

from __future__ import annotations

from pydantic import Field
from reservesync.settings import DatabaseSettings, KafkaSettings


class Settings(KafkaSettings, DatabaseSettings):
    writer_group_id: str = "rbtc-db-writer"
    writer_batch_max: int = Field(5000, ge=1, description="records per database transaction")
    writer_poll_timeout_ms: int = Field(200, ge=1)
