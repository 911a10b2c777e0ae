"""db-writer settings."""

from __future__ import annotations

from pydantic import Field
from reservesync.settings import DatabaseSettings, EncryptionSettings, KafkaSettings


class Settings(KafkaSettings, DatabaseSettings, EncryptionSettings):
    writer_group_id: str = "rbtc-db-writer"
    # Measured (bench/sink.py, 2 cores): 20k records per transaction is where fewer round
    # trips stop paying; 50k only costs memory.
    writer_batch_max: int = Field(20_000, ge=1, description="records per database transaction")
    writer_poll_timeout_ms: int = Field(200, ge=1)
    writer_retention_interval_s: float = Field(3600, gt=0)
