"""Turning Kafka record values into message models, with one clear error when that fails."""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from reservesync.messages.alerts import Alert
from reservesync.messages.base import Message
from reservesync.messages.bitcoin import BitcoinAddressBalance
from reservesync.messages.chain import ChainEvent, ChainReorg
from reservesync.messages.dlq import DeadLetter
from reservesync.messages.oracle import OracleOperation, OracleUserState
from reservesync.messages.registry import RegisteredContract

MAX_MESSAGE_BYTES = 1024 * 1024

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
    """Parse one record value into one of the `accepted` models, or raise `InvalidMessage`."""
    if value is None:
        raise InvalidMessage("empty value (tombstone) where a message was expected")
    if len(value) > MAX_MESSAGE_BYTES:
        raise InvalidMessage(f"value of {len(value)} bytes exceeds {MAX_MESSAGE_BYTES}")
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
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
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
