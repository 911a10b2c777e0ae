"""What each oracle may write (least privilege): which operation actions it may log and
whether it may publish user state.

Configured per oracle id in `ORACLE_SCOPES`, e.g.
`{"oracle-1": {"actions": ["SYNC", "MINT", "BURN"], "user_state": true}}` (`"actions": ["*"]`
for every action). An oracle id without an entry gets `DEFAULT`: it may log `BALANCE_CHECK`
(an observation that moves no money and changes no user) and nothing else, so a credential
added without thought can report but never mint, burn or overwrite a user's state.

The pull of the oracle's `/users` (pull mode) is configured by the operator, not requested by an
oracle, so no scope applies to it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from reservesync.http_errors import ApiError
from reservesync.messages import OracleAction

from oracle_logger.errors import item_problem

DEFAULT_ACTIONS = frozenset({OracleAction.BALANCE_CHECK})


class OracleScope(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    actions: frozenset[OracleAction] = Field(
        DEFAULT_ACTIONS, description='the actions it may log; ["*"] for all'
    )
    user_state: bool = Field(False, description="whether it may publish user states")

    @field_validator("actions", mode="before")
    @classmethod
    def _star_is_every_action(cls, value: Any) -> Any:
        if isinstance(value, list | tuple | set | frozenset) and "*" in value:
            return frozenset(OracleAction)
        return value

    @classmethod
    def default(cls) -> OracleScope:
        return cls()


def forbid_out_of_scope_actions(items: Sequence[Any], oracle_id: str, scope: OracleScope) -> None:
    """403 naming each item whose action the oracle may not log.

    Checked on the raw items, before validation (as the oracle id is), so authorization never
    depends on whether an item happens to be valid otherwise; an action that is no action at
    all is left to validation (400)."""
    allowed = {action.value for action in scope.actions}
    known = {action.value for action in OracleAction}
    refused = [
        item_problem(
            index,
            "action",
            f"{oracle_id!r} may not log {item['action']} "
            f"(its scope: {', '.join(sorted(allowed)) or 'nothing'})",
        )
        for index, item in enumerate(items)
        if isinstance(item, dict)
        and isinstance(item.get("action"), str)
        and item["action"] in known
        and item["action"] not in allowed
    ]
    if refused:
        raise ApiError(403, "action_out_of_scope", "items log actions outside the scope", refused)


def require_user_state(oracle_id: str, scope: OracleScope) -> None:
    if not scope.user_state:
        raise ApiError(
            403, "state_out_of_scope", f"{oracle_id!r} may not publish user state (its scope)"
        )
