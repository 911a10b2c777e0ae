"""Turning a request body (one JSON object or an array of them) into validated messages, or
into one 400 that lists every problem by item index, field and message.

A request is all-or-nothing: one bad item refuses the whole request and nothing of it is
published. A client then fixes or drops that item and resends the same request; there is never
a half-published batch whose remainder it would have to work out.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, TypeVar

from pydantic import ValidationError
from reservesync.http_errors import ApiError, Problem
from reservesync.messages import Message, OracleOperation

from oracle_logger.errors import item_problem
from oracle_logger.publishing import digest

M = TypeVar("M", bound=Message)


def parse_items(body: bytes, max_items: int) -> list[Any]:
    try:
        document = json.loads(body)
    except RecursionError as exc:
        # Deep nesting (`[[[[...`) exhausts the parser's stack: a bad body, not our failure.
        raise ApiError(
            400, "invalid_json", "the body nests too deeply to be one of our messages"
        ) from exc
    except ValueError as exc:
        # JSONDecodeError and UnicodeDecodeError are ValueErrors, and so is an integer longer
        # than Python converts (sys.get_int_max_str_digits).
        raise ApiError(
            400,
            "invalid_json",
            "the body is not UTF-8 JSON",
            [item_problem(None, None, str(exc))],
        ) from exc
    items = document if isinstance(document, list) else [document]
    if not items:
        raise ApiError(400, "empty_batch", "the array holds no items")
    if len(items) > max_items:
        raise ApiError(
            413, "too_many_items", f"{len(items)} items; at most {max_items} per request"
        )
    return items


def forbid_foreign_oracle(items: Sequence[Any], oracle_id: str) -> None:
    """403 when an item speaks for another oracle: a credential vouches for one oracle only.

    Checked on the raw items, before validation, so authorization never depends on whether an
    item happens to be valid otherwise."""
    foreign = [
        item_problem(
            index,
            "oracle_id",
            f"names {item['oracle_id']!r}, but the request is authenticated as {oracle_id!r}",
        )
        for index, item in enumerate(items)
        if isinstance(item, dict)
        and isinstance(item.get("oracle_id"), str)
        and item["oracle_id"] != oracle_id
    ]
    if foreign:
        raise ApiError(403, "oracle_mismatch", "items name another oracle", foreign)


def validate_items(items: Sequence[Any], model: type[M]) -> list[M]:
    valid: list[M] = []
    errors: list[Problem] = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            errors.append(item_problem(index, None, "must be a JSON object"))
            continue
        try:
            valid.append(model.model_validate(item))
        except ValidationError as exc:
            errors.extend(
                item_problem(
                    index,
                    ".".join(str(part) for part in error["loc"]) or None,
                    error["msg"],
                )
                for error in exc.errors(include_url=False, include_input=False)
            )
    if errors:
        raise ApiError(
            400, "invalid_items", f"{len(errors)} problem(s) in {model.SCHEMA} items", errors
        )
    return valid


def merge_repeats(operations: Sequence[OracleOperation]) -> list[OracleOperation]:
    """One per operation id: identical repeats merge, a repeat with other content is a 400."""
    first: dict[str, tuple[int, str]] = {}
    unique: list[OracleOperation] = []
    errors: list[Problem] = []
    for index, op in enumerate(operations):
        value_digest = digest(op.to_json())
        seen = first.get(op.operation_id)
        if seen is None:
            first[op.operation_id] = (index, value_digest)
            unique.append(op)
        elif seen[1] != value_digest:
            errors.append(
                item_problem(
                    index,
                    "operation_id",
                    f"repeats the id of item {seen[0]} with different content",
                )
            )
    if errors:
        raise ApiError(400, "invalid_items", "operation ids repeat with different content", errors)
    return unique
