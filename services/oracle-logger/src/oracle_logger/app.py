"""The oracle-logger HTTP application.

Its own routes arrive with its issue; until then it serves what every service serves, so it
can already be deployed, probed and scraped.
"""

from __future__ import annotations

from fastapi import FastAPI
from reservesync import probes
from reservesync.http import add_probes

from oracle_logger.config import Settings


def create_app(settings: Settings) -> FastAPI:
    app = FastAPI(title="ReserveSync oracle-logger", version="0.1.0")
    add_probes(app, {"kafka": lambda: probes.kafka_reachable(settings)})
    return app
