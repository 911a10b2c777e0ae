"""Turning Kafka record values into message models, with one clear error when that fails."""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import ValidationError

from reservesync.messages.alerts import Alert
from reservesync.messages.base import Message
from reservesync.messages.bitcoin import BitcoinAddressBalance
from reservesync.messages.chain import ChainEvent, ChainReorg
from reservesync.messages.contract_registry import RegisteredContract
from reservesync.messages.dlq import DeadLetter
from reservesync.messages.oracle import OracleOperation, OracleUserState

MAX_MESSAGE_BYTES = 1024 * 1024
MAX_NESTING = 16
"""Deeper than any message of the contract (a user state is 3 levels): refused before parsing,
since a JSON parser recurses per level and 100k levels exhaust Python's stack."""

MESSAGE_TYPES: dict[str, type[Message]] = {
    model.SCHEMA: model
    for model in (
        ChainEvent,
        ChainReorg,
        OracleOperation,
        OracleUserState,
        RegisteredContract,
        DeadLetter,
        Alert,
        BitcoinAddressBalance,
    )
}


class InvalidMessage(ValueError):
    """A record that can never be accepted as it is; it belongs in the dead-letter topic."""


def decode(value: bytes | None, accepted: tuple[type[Message], ...]) -> Message:
    """Parse one record value into one of the `accepted` models, or raise `InvalidMessage`.

    Never raises anything else, whatever the bytes: a consumer dead-letters what this refuses
    and goes on, so no input can stop it."""
    if value is None:
        raise InvalidMessage("empty value (tombstone) where a message was expected")
    if len(value) > MAX_MESSAGE_BYTES:
        raise InvalidMessage(f"value of {len(value)} bytes exceeds {MAX_MESSAGE_BYTES}")
    _refuse_deep_nesting(value)
    try:
        message = _parse(value, accepted)
    except InvalidMessage:
        raise
    except Exception as exc:  # a validator's unforeseen error is still this record's fault
        raise InvalidMessage(f"undecodable: {type(exc).__name__}: {exc}") from exc
    # Only an escape can put NUL or a lone surrogate into a parsed string (both parsers refuse
    # them raw), so most records skip the walk.
    if b"\\u" in value:
        problem = unstorable_text(message.model_dump())
        if problem:
            raise InvalidMessage(f"{message.SCHEMA}: {problem}")
    return message


def _parse(value: bytes, accepted: tuple[type[Message], ...]) -> Message:
    model = _sniffed_model(value)
    if model is not None and model in accepted:
        try:
            return model.model_validate_json(value)
        except ValidationError as exc:
            if exc.errors()[0]["type"] != "json_invalid":
                raise InvalidMessage(f"{model.SCHEMA}: {_summarise(exc)}") from exc
            # Malformed JSON: the slow path below says so in its own words.
    try:
        document: Any = json.loads(value)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise InvalidMessage(f"not UTF-8 JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise InvalidMessage("value must be a JSON object")
    schema = document.get("schema")
    model = MESSAGE_TYPES.get(schema) if isinstance(schema, str) else None
    if model is None or model not in accepted:
        allowed = ", ".join(m.SCHEMA for m in accepted)
        raise InvalidMessage(f"schema {schema!r} is not accepted here (expected {allowed})")
    try:
        return model.model_validate(document)
    except ValidationError as exc:
        raise InvalidMessage(f"{schema}: {_summarise(exc)}") from exc


_SCHEMA_PREFIX = b'{"schema":"'
_STRUCTURE = re.compile(rb'[\[\]{}"\\]')


def _refuse_deep_nesting(value: bytes) -> None:
    """Refuse JSON nested deeper than `MAX_NESTING`, counted before parsing (brackets inside
    strings do not count). One pass over the structural bytes only, never backtracking."""
    if value.count(b"[") + value.count(b"{") <= MAX_NESTING:
        return  # the common case: too few brackets to nest that deep
    depth, in_string, escaped_at = 0, False, -1
    for match in _STRUCTURE.finditer(value):
        char, at = match.group(), match.start()
        if in_string:
            if at == escaped_at:
                continue  # the byte after a backslash is never structural
            if char == b"\\":
                escaped_at = at + 1
            elif char == b'"':
                in_string = False
        elif char == b'"':
            in_string = True
        elif char in (b"[", b"{"):
            depth += 1
            if depth > MAX_NESTING:
                raise InvalidMessage(f"JSON nested deeper than {MAX_NESTING} levels")
        elif char in (b"]", b"}"):
            depth -= 1


def unstorable_text(value: Any) -> str | None:
    """Why a decoded value holds text PostgreSQL cannot store (NUL, a lone UTF-16
    surrogate), or None."""
    if isinstance(value, str):
        if "\x00" in value:
            return "text holds a NUL character"
        try:
            value.encode()
        except UnicodeEncodeError:
            return "text holds a lone surrogate (not UTF-8)"
        return None
    if isinstance(value, dict):
        value = [*value.keys(), *value.values()]
    if isinstance(value, list | tuple):
        return next((p for p in map(unstorable_text, value) if p), None)
    return None


def _sniffed_model(value: bytes) -> type[Message] | None:
    """The model named by a leading `"schema"` key, as our producers write it; parsing the
    JSON once, in pydantic-core, is most of the decoder's speed. Any other layout goes the
    general way."""
    if not value.startswith(_SCHEMA_PREFIX):
        return None
    end = value.find(b'"', len(_SCHEMA_PREFIX))
    return MESSAGE_TYPES.get(value[len(_SCHEMA_PREFIX) : end].decode("ascii", "replace"))


def _summarise(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors()[:5]:
        where = ".".join(str(p) for p in error["loc"]) or "<root>"
        parts.append(f"{where}: {error['msg']}")
    more = exc.error_count() - len(parts)
    return "; ".join(parts) + (f" (+{more} more)" if more > 0 else "")
