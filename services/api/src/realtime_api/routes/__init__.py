"""The read endpoints under /api/realtime, one module per concern."""

from __future__ import annotations

from fastapi import Depends, FastAPI

from realtime_api.deps import refuse_unknown_parameters
from realtime_api.routes import (
    balances,
    bitcoin_addresses,
    disputes,
    emergency_burns,
    reserves,
    sync_status,
    transactions,
    yield_status,
)

PREFIX = "/api/realtime"
MODULES = (
    balances,
    transactions,
    emergency_burns,
    yield_status,
    sync_status,
    reserves,
    disputes,
    bitcoin_addresses,
)


def include(app: FastAPI) -> None:
    # Each module's router straight into the app: FastAPI matches nested routers level by
    # level on every request, which showed in profiles at hundreds of requests per second.
    for module in MODULES:
        app.include_router(
            module.router, prefix=PREFIX, dependencies=[Depends(refuse_unknown_parameters)]
        )
