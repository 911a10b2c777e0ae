"""The latency benchmark's clocks: Postgres's record of when each row's transaction committed,
and the broker's append time of each event on the events topic (bench/latency.py)."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import asyncpg
from aiokafka import TopicPartition
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from devstack import postgres
from reservesync import kafka
from reservesync.settings import KafkaSettings
from reservesync.topics import CHAIN_EVENTS

from bench import own_stack


async def commit_timestamps_on(admin_url: str) -> None:
    connection = await asyncpg.connect(admin_url)
    try:
        await connection.execute("ALTER SYSTEM SET track_commit_timestamp = on")
    finally:
        await connection.close()
    postgres.restart()  # the setting takes effect only at server start


async def log_append_time(bootstrap: str) -> None:
    """The events topic stamps records with the broker's append time. AlterConfigs replaces a
    topic's whole configuration, so its own settings are given again."""
    admin = kafka.admin(KafkaSettings(kafka_bootstrap_servers=bootstrap))
    await admin.start()
    try:
        configs = {**CHAIN_EVENTS.configs, "message.timestamp.type": "LogAppendTime"}
        await admin.alter_configs(
            [ConfigResource(ConfigResourceType.TOPIC, CHAIN_EVENTS.name, configs=configs)]
        )
    finally:
        await admin.close()


async def rows_committed(
    db: own_stack.Database, hashes: list[str], expected: int
) -> dict[Any, float]:
    """(tx_hash, log_index) -> commit time, once all `expected` rows are there."""
    connection = await asyncpg.connect(db.migrator_url)
    try:
        deadline = time.monotonic() + 120
        while True:
            rows = await connection.fetch(
                "SELECT tx_hash, log_index, "
                "extract(epoch FROM pg_xact_commit_timestamp(xmin))::float8 AS committed "
                "FROM transactions WHERE tx_hash = ANY($1::text[])",
                hashes,
            )
            if len(rows) >= expected:
                return {(r["tx_hash"], r["log_index"]): r["committed"] for r in rows}
            if time.monotonic() > deadline:
                raise RuntimeError(f"{len(rows)} of {expected} rows after 120s")
            await asyncio.sleep(0.2)
    finally:
        await connection.close()


async def appended_at(bootstrap: str, hashes: set[str]) -> dict[Any, float]:
    """(tx_hash, log_index) -> the broker's append time (s) of each of these events."""
    consumer = kafka.consumer(KafkaSettings(kafka_bootstrap_servers=bootstrap), group_id=None)
    await consumer.start()
    try:
        partitions = [TopicPartition(CHAIN_EVENTS.name, p) for p in range(CHAIN_EVENTS.partitions)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        found: dict[Any, float] = {}
        idle = 0
        while idle < 5 and any([await consumer.position(tp) < ends[tp] for tp in partitions]):
            batch = await consumer.getmany(timeout_ms=300)
            idle = 0 if batch else idle + 1
            for records in batch.values():
                for record in records:
                    event = json.loads(record.value or b"{}")
                    if event.get("tx_hash") in hashes:
                        if record.timestamp_type != 1:
                            raise RuntimeError("the events topic is not on LogAppendTime")
                        found[(event["tx_hash"], event["log_index"])] = record.timestamp / 1000
        return found
    finally:
        await consumer.stop()
