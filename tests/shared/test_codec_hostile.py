"""The shared decoder against hostile bytes: it returns a message or raises `InvalidMessage`
with a reason, never anything else, so no consumer can be stopped by a record."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from reservesync.contracts import SystemContract
from reservesync.dead_letters import dead_letter
from reservesync.messages import (
    ChainEvent,
    DeadLetter,
    InvalidMessage,
    Message,
    OracleOperation,
    OracleUserState,
    make_event_id,
)
from reservesync.messages.codec import MAX_NESTING, MESSAGE_TYPES, decode, unstorable_text

from tests.support.hostile import UINT64_MAX, UINT256_MAX, hostile_values

ALL = tuple(MESSAGE_TYPES.values())
USER = "0x" + "ab" * 20
TX = "0x" + "11" * 32


_BASE = ChainEvent(
    event_id=make_event_id(31337, TX, 0),
    chain_id=31337,
    block_number=7,
    block_hash="0x" + "22" * 32,
    block_timestamp=datetime(2025, 1, 1, tzinfo=UTC),
    tx_hash=TX,
    tx_index=0,
    log_index=0,
    contract=SystemContract.ORACLE_AGGREGATOR,
    address="0x" + "33" * 20,
    event="NeedsTopUp",
    args={"user": USER},
).to_dict()


def _event(event: str, args: dict[str, str | bool]) -> dict[str, object]:
    """A chain event's JSON as a producer might send it (not validated here)."""
    return {**_BASE, "event": event, "args": args}


def _synced(new: int, delta: int) -> dict[str, object]:
    args: dict[str, str | bool] = {
        "user": USER,
        "newBalanceSats": str(new),
        "deltaSats": str(delta),
        "feeWei": str(UINT256_MAX),
        "height": str(2**32 - 1),
        "timestamp": str(UINT64_MAX),
    }
    return _event("Synced", args)


def _outcome(value: bytes) -> Message | InvalidMessage:
    try:
        return decode(value, ALL)
    except InvalidMessage as refused:
        return refused


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=hostile_values(_synced(5, 5)))
def test_hostile_values_decode_or_are_refused_with_a_reason(value: bytes) -> None:
    outcome = _outcome(value)
    if isinstance(outcome, InvalidMessage):
        assert str(outcome)
        # Whatever it held, its dead letter is valid and storable JSON.
        record = type("R", (), {"topic": "t", "partition": 0, "offset": 1, "key": value[:64]})
        record.value = value  # type: ignore[attr-defined]
        letter = dead_letter(record, outcome, "test")  # type: ignore[arg-type]
        assert unstorable_text(letter.to_dict()) is None  # what jsonb refuses
        assert DeadLetter.model_validate_json(letter.to_json()) == letter


def test_json_nested_100k_levels_is_refused_before_parsing() -> None:
    deep = b'{"schema":"chain.event/v1","args":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    with pytest.raises(InvalidMessage, match=f"nested deeper than {MAX_NESTING} levels"):
        decode(deep, ALL)
    # Brackets inside strings are text, not nesting.
    bracketed = json.dumps(
        _event(
            "EmergencyBurn",
            {"user": USER, "burnedAmount": "1", "reason": "[" * 100 + '\\"' + "{" * 100},
        )
    )
    assert isinstance(decode(bracketed.encode(), ALL), ChainEvent)


def test_every_abi_extreme_in_range_decodes() -> None:
    event = decode(json.dumps(_synced(UINT64_MAX, -(2**63))).encode(), ALL)
    assert isinstance(event, ChainEvent)
    assert event.arg_int("newBalanceSats") == UINT64_MAX
    assert event.arg_int("deltaSats") == -(2**63)
    assert event.arg_int("feeWei") == UINT256_MAX


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"block_number": 2**63}, "block_number"),
        ({"log_index": 2**31}, "log_index"),
        ({"chain_id": 2**63}, "chain_id"),
        ({"block_timestamp": "9999-12-31T23:59:59-23:59"}, "out of range"),
        ({"block_timestamp": "0001-01-01T00:00:00+01:00"}, "out of range"),
    ],
)
def test_numbers_and_times_no_column_holds_are_refused(
    changes: dict[str, object], reason: str
) -> None:
    with pytest.raises(InvalidMessage, match=reason):
        decode(json.dumps({**_synced(1, 1), **changes}).encode(), ALL)


@pytest.mark.parametrize(
    ("new", "delta", "reason"),
    [
        (2**64, 1, r"newBalanceSats \(uint64\): outside"),
        (-1, 1, r"newBalanceSats \(uint64\): must be"),
        (1, 2**63, r"deltaSats \(int64\): outside"),
        (1, -(2**63) - 1, r"deltaSats \(int64\): outside"),
    ],
)
def test_abi_values_out_of_range_are_refused(new: int, delta: int, reason: str) -> None:
    with pytest.raises(InvalidMessage, match=reason):
        decode(json.dumps(_synced(new, delta)).encode(), ALL)


@pytest.mark.parametrize("text", ["a\x00b", "\ud800", "x\udfff"])
def test_text_postgres_cannot_store_is_refused(text: str) -> None:
    burn = _event("EmergencyBurn", {"user": USER, "burnedAmount": "1", "reason": text})
    with pytest.raises(InvalidMessage, match=r"NUL|lone surrogate|unicode string"):
        decode(json.dumps(burn).encode(), ALL)
    op = {
        "schema": "oracle.operation/v1",
        "operation_id": "op-1",
        "action": "SYNC",
        "user_address": USER,
        "reason": text,
        "consensus_reached": True,
        "status": "success",
        "occurred_at": "2025-01-01T00:00:00Z",
        "oracle_id": "oracle-1",
    }
    with pytest.raises(InvalidMessage, match=r"NUL|lone surrogate|unicode string"):
        decode(json.dumps(op).encode(), (OracleOperation,))


def test_counters_past_a_bigint_are_refused() -> None:
    state = {
        "schema": "oracle.user_state/v1",
        "user_address": USER,
        "bitcoin_addresses": [],
        "last_synced_sats": 0,
        "last_sync_at": None,
        "registered_at": None,
        "emergency_burns": [],
        "operations_performed": 2**63,
        "as_of": "2025-01-01T00:00:00Z",
    }
    with pytest.raises(InvalidMessage, match="operations_performed"):
        decode(json.dumps(state).encode(), (OracleUserState,))
