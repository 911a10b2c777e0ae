"""The end-to-end canary, in the manner of KMinion: every `HEALTH_CANARY_INTERVAL_S` a marker is
produced (idempotent, acks=all, in a Kafka transaction like the listener's) to
`rbtc.health.canary.v1` and read back by a read_committed consumer; the time from send to
seen is the pipeline's round trip through the brokers (`health_canary_round_trip_seconds`).
A marker not seen within `TIMEOUT_S` counts as a failure."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from pydantic import BaseModel, ConfigDict
from reservesync import kafka
from reservesync.topics import HEALTH_CANARY

from health_monitor.config import Settings
from health_monitor.models import CanaryReport

log = logging.getLogger(__name__)
TIMEOUT_S = 30.0


class CanaryMarker(BaseModel):
    """A canary record's value: a random marker, known only to the health replica that sent it."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    canary: str


class Canary:
    def __init__(self, settings: Settings) -> None:
        self.interval_s = settings.health_canary_interval_s
        self.producer: AIOKafkaProducer = kafka.producer(
            settings, transactional_id=f"health-canary-{settings.chain_id}-{secrets.token_hex(4)}"
        )
        self.consumer: AIOKafkaConsumer = kafka.consumer(settings, group_id=None)
        self.report = CanaryReport()

    async def run(self, stop: asyncio.Event) -> None:
        if self.interval_s <= 0:
            return
        try:
            await self._run(stop)
        except Exception as exc:  # the canary says so; it never takes the service down
            self.report = self.report.model_copy(update={"error": f"{type(exc).__name__}: {exc}"})
            log.exception("canary stopped")

    async def _run(self, stop: asyncio.Event) -> None:
        partition = TopicPartition(HEALTH_CANARY.name, 0)
        await self.consumer.start()
        try:
            while HEALTH_CANARY.name not in await self.consumer.topics():
                self.report = self.report.model_copy(
                    update={"error": f"topic {HEALTH_CANARY.name} missing (run ensure_topics)"}
                )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=max(self.interval_s, 10.0))
                if stop.is_set():
                    return
            await self.producer.start()
            self.consumer.assign([partition])
            await self.consumer.seek_to_end(partition)
            while not stop.is_set():
                await self._once(partition)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=self.interval_s)
        finally:
            await self.consumer.stop()
            await self.producer.stop()  # aiokafka: stopping a producer never started is fine

    async def _once(self, partition: TopicPartition) -> None:
        marker = secrets.token_hex(8)
        sent = time.monotonic()
        async with self.producer.transaction():
            await self.producer.send(
                HEALTH_CANARY.name,
                CanaryMarker(canary=marker).model_dump_json().encode(),
                partition=0,
            )
        deadline = sent + TIMEOUT_S
        while time.monotonic() < deadline:
            batch = await self.consumer.getmany(partition, timeout_ms=500)
            for record in batch.get(partition, []):
                if record.value and json.loads(record.value).get("canary") == marker:
                    self.report = CanaryReport(
                        last_round_trip_s=round(time.monotonic() - sent, 4),
                        last_seen_at=datetime.now(UTC),
                        failures=self.report.failures,
                    )
                    return
        self.report = self.report.model_copy(
            update={"failures": self.report.failures + 1, "error": "marker not seen in 30 s"}
        )
