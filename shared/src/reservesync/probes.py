"""Readiness checks for the dependencies the services share."""

from __future__ import annotations

import asyncpg

from reservesync import kafka
from reservesync.settings import DatabaseSettings, KafkaSettings


async def kafka_reachable(settings: KafkaSettings) -> None:
    admin = kafka.admin(settings, request_timeout_ms=3000)
    await admin.start()
    try:
        await admin.list_topics()
    finally:
        await admin.close()


async def database_reachable(settings: DatabaseSettings) -> None:
    connection = await asyncpg.connect(settings.asyncpg_dsn, timeout=3)
    try:
        await connection.fetchval("SELECT 1")
    finally:
        await connection.close()
