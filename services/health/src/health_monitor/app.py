"""The health HTTP application.

Its own routes arrive with its issue; until then it serves what every service serves, so it
can already be deployed, probed and scraped.
"""

from __future__ import annotations

from fastapi import FastAPI
from reservesync import probes
from reservesync.http import add_probes

from health_monitor.config import Settings


def create_app(settings: Settings) -> FastAPI:
    app = FastAPI(title="ReserveSync health", version="0.1.0")
    add_probes(
        app,
        {
            "kafka": lambda: probes.kafka_reachable(settings),
            "database": lambda: probes.database_reachable(settings),
        },
    )
    return app
