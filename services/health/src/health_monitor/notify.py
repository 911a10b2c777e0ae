"""Announcing alerts: on `rbtc.alerts.v1` (keyed by alert id) and, when configured, to a
webhook as a JSON POST, retried with exponential backoff."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import urllib.error
import urllib.request
from collections.abc import Sequence

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from reservesync import kafka
from reservesync.messages import Alert
from reservesync.topics import ALERTS

from health_monitor import metrics
from health_monitor.config import Settings

log = logging.getLogger(__name__)
QUEUE_LIMIT = 1000
FIRST_RETRY_S = 0.5
LAST_RETRY_S = 30.0
PUBLISH_TIMEOUT_S = 30.0


class Notifier:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.producer: AIOKafkaProducer = kafka.producer(settings)
        self.webhook: asyncio.Queue[Alert] = asyncio.Queue(QUEUE_LIMIT)

    async def start(self) -> None:
        await self.producer.start()

    async def stop(self) -> None:
        await self.producer.stop()

    async def announce(self, alerts: Sequence[Alert]) -> None:
        """Publish and wait for the acknowledgements (not forever: the evaluation loop waits
        on this), and hand them to the webhook either way."""
        try:
            async with asyncio.timeout(PUBLISH_TIMEOUT_S):
                futures = [
                    await self.producer.send(ALERTS.name, a.to_json(), key=a.alert_id.encode())
                    for a in alerts
                ]
                for future in futures:
                    await future
        except (KafkaError, TimeoutError) as exc:
            metrics.ALERT_PUBLISH_FAILURES.inc(len(alerts))
            log.error("alerts not published to Kafka", extra={"error": repr(exc)})
        for alert in alerts:
            metrics.ALERTS.labels(alert.kind, alert.severity.value, alert.state.value).inc()
            log.warning(
                "alert",
                extra={
                    "alert_id": alert.alert_id,
                    "state": alert.state.value,
                    "summary": alert.summary,
                },
            )
            self.forward(alert)

    def forward(self, alert: Alert) -> None:
        """Queue an alert for the webhook (ours when raised, other services' when seen)."""
        if not self.settings.health_webhook_url:
            return
        if self.webhook.full():
            dropped = self.webhook.get_nowait()
            metrics.WEBHOOK.labels("dropped").inc()
            log.error(
                "webhook queue full, oldest alert dropped", extra={"alert_id": dropped.alert_id}
            )
        self.webhook.put_nowait(alert)

    async def deliver(self, stop: asyncio.Event) -> None:
        """Deliver queued alerts in order until `stop`."""
        while not stop.is_set():
            getting = asyncio.ensure_future(self.webhook.get())
            stopping = asyncio.ensure_future(stop.wait())
            done, _ = await asyncio.wait({getting, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if getting not in done:
                getting.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await getting
                break
            stopping.cancel()
            await self._post_with_retries(getting.result(), stop)

    async def _post_with_retries(self, alert: Alert, stop: asyncio.Event) -> None:
        delay = FIRST_RETRY_S
        for attempt in range(1, self.settings.health_webhook_attempts + 1):
            try:
                await asyncio.to_thread(self._post, alert)
                metrics.WEBHOOK.labels("delivered").inc()
                return
            except (OSError, urllib.error.HTTPError) as exc:
                metrics.WEBHOOK.labels("retried").inc()
                log.warning(
                    "webhook delivery failed",
                    extra={"alert_id": alert.alert_id, "attempt": attempt, "error": str(exc)},
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=delay)
            if stop.is_set():
                return
            delay = min(delay * 2, LAST_RETRY_S)
        metrics.WEBHOOK.labels("failed").inc()

    def _post(self, alert: Alert) -> None:
        url = self.settings.health_webhook_url or ""
        request = urllib.request.Request(  # noqa: S310 - the operator's configured URL
            url,
            data=json.dumps(alert.to_dict()).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(  # noqa: S310
            request, timeout=self.settings.health_webhook_timeout_s
        ) as response:
            response.read()
