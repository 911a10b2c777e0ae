"""oracle-logger settings."""

from __future__ import annotations

from reservesync.settings import HttpSettings, KafkaSettings


class Settings(KafkaSettings, HttpSettings):
    pass
