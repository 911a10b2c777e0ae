"""A database of its own, for tests that must count every row they cause."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FreshDatabase:
    name: str
    writer_url: str
    migrator_url: str
    api_url: str
