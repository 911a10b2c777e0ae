"""Health's FastStream readers of the registry, DLQ and alert topics on the real broker: a
start applies everything published before it by the time it says it is caught up, a record
that does not decode is handed to the reader (counted, never the end of reading), and what is
published afterwards is read as it comes."""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime

from health_monitor.domain.alert_feed import AlertFeed
from health_monitor.domain.dead_letters import DeadLetterBook
from health_monitor.sources import SourceReader
from reservesync.messages import Alert, AlertState, Severity
from reservesync.settings import KafkaSettings
from reservesync.topics import ALERTS

from tests.support.messages import publish
from tests.support.stack import Endpoints
from tests.support.waiting import eventually


def _resolved(alert_id: str) -> Alert:
    # Resolved: a health process of another test reading the topic sees nothing firing.
    return Alert(
        alert_id=alert_id,
        kind="source-stream-test",
        severity=Severity.INFO,
        state=AlertState.RESOLVED,
        summary="written by the source stream test",
        raised_at=datetime.now(UTC),
    )


async def test_a_start_applies_what_came_before_and_reads_past_what_does_not_decode(
    endpoints: Endpoints,
) -> None:
    tag = secrets.token_hex(6)
    before, after = _resolved(f"test:{tag}:before"), _resolved(f"test:{tag}:after")
    poison = [(b"poison", b"\xff\xfe not json"), (b"poison", b'{"schema": "alert/v1"}')]
    await publish(
        endpoints.kafka_bootstrap_servers,
        ALERTS.name,
        [*poison, (before.alert_id.encode(), before.to_json())],
    )
    settings = KafkaSettings(kafka_bootstrap_servers=endpoints.kafka_bootstrap_servers)
    feed = AlertFeed(keep=100_000)
    reader = SourceReader(settings, DeadLetterBook(window_s=3600), feed)
    stop = asyncio.Event()
    reading = asyncio.create_task(reader.run(stop))
    try:
        await asyncio.wait_for(reader.caught_up.wait(), 120)
        assert reader.failure is None
        ids = {a.alert_id for a in feed.recent}
        assert before.alert_id in ids, "caught up before applying what preceded the start"
        assert reader.records >= len(poison) + 1
        read_at_start = reader.records

        await publish(
            endpoints.kafka_bootstrap_servers,
            ALERTS.name,
            [*poison, (after.alert_id.encode(), after.to_json())],
        )

        async def seen_after() -> bool:
            return any(a.alert_id == after.alert_id for a in feed.recent)

        await eventually(seen_after, within=60, what="the alert published after the start")
        # The poison of both rounds was handed to the reader too, not dropped on the way.
        assert reader.records >= read_at_start + len(poison) + 1
        assert reader.failure is None
    finally:
        stop.set()
        await asyncio.wait_for(reading, 60)
