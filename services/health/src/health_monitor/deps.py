"""What the routes depend on, as `Annotated[..., Depends(...)]` aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from health_monitor.monitor import Monitor


def _monitor(request: Request) -> Monitor:
    monitor: Monitor = request.app.state.monitor
    return monitor


MonitorDep = Annotated[Monitor, Depends(_monitor)]
