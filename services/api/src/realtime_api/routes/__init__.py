"""The read endpoints under /api/realtime, one module per concern."""

from __future__ import annotations

from fastapi import APIRouter, Depends

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

router = APIRouter(prefix=PREFIX, dependencies=[Depends(refuse_unknown_parameters)])
for module in (
    balances,
    transactions,
    emergency_burns,
    yield_status,
    sync_status,
    reserves,
    disputes,
    bitcoin_addresses,
):
    router.include_router(module.router)
