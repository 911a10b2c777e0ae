"""The realtime API HTTP application.

Its own routes arrive with its issue; until then it serves what every service serves, so it
can already be deployed, probed and scraped.
"""

from __future__ import annotations

from fastapi import FastAPI
from reservesync import probes
from reservesync.http import add_probes

from realtime_api.config import Settings


def create_app(settings: Settings) -> FastAPI:
    app = FastAPI(title="ReserveSync realtime API", version="0.1.0")
    add_probes(app, {"database": lambda: probes.database_reachable(settings)})
    return app
