"""GET /yield-status: a user's YieldScales participation and claims, and the pool's state."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter

from realtime_api import errors, schemas
from realtime_api.deps import AddressDep, ReaderDep, SnapshotDep
from realtime_api.domain.freshness import age_s
from realtime_api.storage import queries
from realtime_api.storage.snapshot import PoolEvent, Snapshot

router = APIRouter(tags=["yield"])
ROLES = {0: "rbtc_holder", 1: "usdt_provider"}


def _event(event: PoolEvent | None) -> schemas.PoolEvent | None:
    if event is None:
        return None
    return schemas.PoolEvent(values=event.values, block_number=event.block_number, at=event.at)


def pool_status(snapshot: Snapshot, now: datetime) -> schemas.PoolStatus:
    t = snapshot.totals
    return schemas.PoolStatus(
        contract=snapshot.pool_contract,
        code_present=snapshot.pool_code_present,
        participants_active=t["participants_active"],
        participants_ever=t["participants_ever"],
        rbtc_committed=schemas.integer_text(t["rbtc_committed"]),
        usdt_committed=schemas.integer_text(t["usdt_committed"]),
        latest_yield=_event(snapshot.latest_yield),
        latest_scales=_event(snapshot.latest_scales),
        as_of=snapshot.as_of,
        age_s=age_s(snapshot.as_of, now) or 0.0,
    )


@router.get("/yield-status", responses=errors.responses(400, 429, 503))
async def get_yield_status(
    address: AddressDep, reader: ReaderDep, snapshot: SnapshotDep
) -> schemas.YieldStatus:
    """Whether the user takes part in YieldScalesPool (as an rBTC holder or a USDT provider)
    and what they claimed, beside the pool's participants, commitments and latest yield and
    scales (from the aggregates snapshot, whose time `pool.as_of` gives)."""
    async with reader.connection() as connection:
        row = await connection.fetchrow(queries.YIELD_PARTICIPANT, address)
    participant = None
    if row["participant_type"] is not None:
        participant = schemas.Participation(
            participant_type=row["participant_type"],
            role=ROLES[row["participant_type"]],
            amount=schemas.integer_text(row["amount"]),
            active=row["active"],
            joined_at=row["joined_at"],
            left_at=row["left_at"],
        )
    return schemas.YieldStatus(
        address=address,
        participant=participant,
        claims=schemas.YieldClaims(claims=row["claims"], claimed_sats=int(row["claimed"])),
        pool=pool_status(snapshot, datetime.now(UTC)),
    )
