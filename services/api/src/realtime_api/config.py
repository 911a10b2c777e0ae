"""realtime API settings."""

from __future__ import annotations

from reservesync.settings import DatabaseSettings, HttpSettings


class Settings(DatabaseSettings, HttpSettings):
    pass
