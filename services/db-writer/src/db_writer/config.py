"""db-writer settings."""

from __future__ import annotations

from pydantic import Field, field_validator
from reservesync.settings import DatabaseSettings, EncryptionSettings, KafkaSettings, NameList
from reservesync.topics import WRITER_SOURCES, Topic

SOURCE_TOPICS: dict[str, Topic] = {topic.name: topic for topic in WRITER_SOURCES}


class DatabaseToolSettings(DatabaseSettings, EncryptionSettings):
    """What the commands that work on the database alone need (checksum, re-encryption)."""


class Settings(KafkaSettings, DatabaseSettings, EncryptionSettings):
    writer_group_id: str = "rbtc-db-writer"
    writer_topics: NameList = Field(
        default_factory=lambda: list(SOURCE_TOPICS),
        description="the topics to write, comma-separated (default: all five); a topic added "
        "later is written from its beginning",
    )
    # Measured (bench/sink.py, 2 cores): 20k records per transaction is where fewer round
    # trips stop paying; 50k only costs memory.
    writer_batch_max: int = Field(20_000, ge=1, description="records per database transaction")
    writer_poll_timeout_ms: int = Field(200, ge=1)
    writer_retention_interval_s: float = Field(3600, gt=0)

    @field_validator("writer_topics")
    @classmethod
    def _known_topics(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - set(SOURCE_TOPICS))
        if unknown:
            raise ValueError(f"not a source topic of the db-writer: {', '.join(unknown)}")
        if not value:
            raise ValueError("at least one topic")
        return list(dict.fromkeys(value))
