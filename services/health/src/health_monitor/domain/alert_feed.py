"""The alerts on `rbtc.alerts.v1`, ours and other services' (the chain-listener's deep-reorg
alerts among them), as the dashboard and `/v1/alerts` show them."""

from __future__ import annotations

from collections import deque

from reservesync.messages import Alert, AlertState

from health_monitor.domain.alerting import OWN_PREFIX


class AlertFeed:
    def __init__(self, keep: int = 200) -> None:
        self.recent: deque[Alert] = deque(maxlen=keep)
        self._latest: dict[str, Alert] = {}

    def add(self, alert: Alert) -> None:
        self.recent.append(alert)
        self._latest[alert.alert_id] = alert

    def own(self) -> list[Alert]:
        """The last word on each of this service's alerts, to resume them after a restart."""
        return [a for i, a in self._latest.items() if i.startswith(OWN_PREFIX)]

    def others_firing(self) -> list[Alert]:
        """Alerts other services raised and never resolved (a deep reorg stays notable)."""
        return [
            a
            for i, a in self._latest.items()
            if not i.startswith(OWN_PREFIX) and a.state is AlertState.FIRING
        ]
