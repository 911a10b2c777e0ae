"""The write API: `POST /v1/operations` and `POST /v1/state`.

Both take one JSON object or an array of them, are authenticated (see `auth`), refuse a body
over `ORACLE_MAX_BODY_BYTES` with 413, and answer 202 only after Kafka has acknowledged every
record (`acks=all`, idempotent producer). Refusals share the shape of `errors.ApiError`.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel
from reservesync.http_errors import ApiError
from reservesync.messages import OracleOperation, OracleUserState

from oracle_logger.deps import BodyDep, OracleDep, PublisherDep, ScopeDep, SettingsDep
from oracle_logger.posted_items import (
    forbid_foreign_oracle,
    merge_repeats,
    parse_items,
    validate_items,
)
from oracle_logger.publishing import IdConflict, PublishFailed
from oracle_logger.scopes import forbid_out_of_scope_actions, require_user_state

router = APIRouter(prefix="/v1")

_REFUSALS: dict[int | str, dict[str, Any]] = {
    400: {"description": "malformed JSON or invalid items (nothing published)"},
    401: {"description": "missing or wrong credentials, stale or replayed signature"},
    403: {"description": "an item names another oracle, or is outside the oracle's scope"},
    408: {"description": "the body did not arrive within HTTP_BODY_TIMEOUT_S"},
    409: {"description": "an operation id was already accepted with different content"},
    413: {"description": "body or item count over the limit"},
    503: {
        "description": "Kafka did not acknowledge in time, or the shared state is unavailable; "
        "retry with the same ids"
    },
}


class OperationsAccepted(BaseModel):
    accepted: list[str]
    """Every operation id of the request: each is on the topic (now or from an earlier try)."""
    already_accepted: list[str]
    """Those accepted by an earlier request and not published again."""


class StatesAccepted(BaseModel):
    accepted: list[str]
    """The user addresses whose state was published, in request order."""


def _unavailable(exc: PublishFailed) -> ApiError:
    return ApiError(
        503,
        "kafka_unavailable",
        f"not acknowledged by Kafka ({exc}); retry with the same operation ids",
        headers={"Retry-After": "1"},
    )


@router.post("/operations", status_code=202, responses=_REFUSALS)
async def post_operations(
    oracle_id: OracleDep,
    scope: ScopeDep,
    body: BodyDep,
    settings: SettingsDep,
    publisher: PublisherDep,
) -> OperationsAccepted:
    """Log `oracle.operation/v1` items onto `rbtc.oracle.operations.v1`, keyed by user.

    `operation_id` is the idempotency key: resending an accepted operation (a retry after a
    timeout) answers 202 again without publishing it twice, on any replica."""
    items = parse_items(body, settings.oracle_max_batch_items)
    forbid_foreign_oracle(items, oracle_id)
    forbid_out_of_scope_actions(items, oracle_id, scope)
    operations = merge_repeats(validate_items(items, OracleOperation))
    try:
        outcome = await publisher.publish_operations(operations)
    except IdConflict as exc:
        raise ApiError(
            409,
            "operation_id_conflict",
            f"already accepted with different content: {', '.join(exc.ids)}",
        ) from exc
    except PublishFailed as exc:
        raise _unavailable(exc) from exc
    return OperationsAccepted(accepted=outcome.accepted, already_accepted=outcome.already_accepted)


@router.post("/state", status_code=202, responses=_REFUSALS)
async def post_state(
    oracle_id: OracleDep,
    scope: ScopeDep,
    body: BodyDep,
    settings: SettingsDep,
    publisher: PublisherDep,
) -> StatesAccepted:
    """Publish `oracle.user_state/v1` items onto the compacted `rbtc.oracle.state.v1`, keyed by
    user. Only an oracle whose scope allows user state may (403 otherwise)."""
    require_user_state(oracle_id, scope)
    states = validate_items(parse_items(body, settings.oracle_max_batch_items), OracleUserState)
    try:
        await publisher.publish_states(states)
    except PublishFailed as exc:
        raise _unavailable(exc) from exc
    return StatesAccepted(accepted=[s.user_address for s in states])
