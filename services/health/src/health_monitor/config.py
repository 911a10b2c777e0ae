"""health settings."""

from __future__ import annotations

from reservesync.settings import ChainSettings, DatabaseSettings, HttpSettings, KafkaSettings


class Settings(KafkaSettings, DatabaseSettings, ChainSettings, HttpSettings):
    pass
