"""The message models of SPEC section 3: what they accept, what they refuse, and why."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from reservesync.messages import (
    ChainEvent,
    ChainReorg,
    DeadLetter,
    InvalidMessage,
    OracleOperation,
    OracleUserState,
    RegisteredContract,
    decode,
)
from reservesync.messages.codec import MAX_MESSAGE_BYTES

USER = "0x" + "ab" * 20
SYNCED_ARGS = {
    "user": USER,
    "newBalanceSats": "150000",
    "deltaSats": "-5",
    "feeWei": "0",
    "height": "0",
    "timestamp": "1757671200",
}
HASH = "0x" + "cd" * 32


def synced(**changes: object) -> dict[str, object]:
    event: dict[str, object] = {
        "schema": "chain.event/v1",
        "event_id": f"31337:{HASH}:3",
        "chain_id": 31337,
        "block_number": 42,
        "block_hash": HASH,
        "block_timestamp": "2025-09-12T10:00:00Z",
        "tx_hash": HASH,
        "tx_index": 0,
        "log_index": 3,
        "contract": "OracleAggregator",
        "address": "0x" + "01" * 20,
        "event": "Synced",
        "args": SYNCED_ARGS,
    }
    event.update(changes)
    return event


def operation(**changes: object) -> dict[str, object]:
    op: dict[str, object] = {
        "schema": "oracle.operation/v1",
        "operation_id": "op-1",
        "action": "EMERGENCY_BURN",
        "user_address": USER.upper().replace("0X", "0x"),
        "amount_sats": 83_940,
        "consensus_reached": True,
        "sources_used": ["mempool.space"],
        "status": "success",
        "occurred_at": "2025-09-15T08:00:00+02:00",
        "oracle_id": "oracle-1",
    }
    op.update(changes)
    return op


def as_bytes(document: object) -> bytes:
    return json.dumps(document).encode()


def test_a_valid_chain_event_round_trips() -> None:
    event = decode(as_bytes(synced()), (ChainEvent,))
    assert isinstance(event, ChainEvent)
    assert event.arg_int("deltaSats") == -5
    assert event.partition_key == USER
    assert json.loads(event.to_json()) == synced()


def test_addresses_are_carried_lowercase_and_times_in_utc() -> None:
    op = decode(as_bytes(operation()), (OracleOperation,))
    assert isinstance(op, OracleOperation)
    assert op.user_address == USER
    assert op.occurred_at == datetime(2025, 9, 15, 6, 0, tzinfo=UTC)
    assert json.loads(op.to_json())["occurred_at"] == "2025-09-15T06:00:00Z"


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        (synced(event_id="31337:0xbad:3"), "event_id must be"),
        (synced(event="Minted"), "has no event 'Minted'"),
        (synced(contract="Unknown"), "contract"),
        (synced(args={"user": USER}), "args must be exactly"),
        (synced(args={**SYNCED_ARGS, "deltaSats": str(2**63)}), "outside"),
        (synced(args={**SYNCED_ARGS, "user": "0xABC"}), "lowercase 0x address"),
        (synced(block_number=-1), "block_number"),
        (synced(block_timestamp="2025-09-12T10:00:00"), "timezone"),
        (synced(extra_field=1), "extra_field"),
        (operation(amount_sats=-1), "amount_sats"),
        (operation(amount_sats=21_000_000 * 10**8 + 1), "amount_sats"),
        (operation(amount_sats="5"), "amount_sats"),
        (operation(user_address="0x12"), "user_address"),
        (operation(action="STEAL"), "action"),
        (operation(operation_id="has space"), "operation_id"),
        (operation(reason="x" * 2000), "reason"),
    ],
)
def test_invalid_messages_are_refused_with_the_reason(
    document: dict[str, object], reason: str
) -> None:
    accepted = (ChainEvent, ChainReorg, OracleOperation)
    with pytest.raises(InvalidMessage, match=None) as caught:
        decode(as_bytes(document), accepted)
    assert reason in str(caught.value)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (None, "tombstone"),
        (b"\xff\xfe", "not UTF-8 JSON"),
        (b"{", "not UTF-8 JSON"),
        (b"[]", "JSON object"),
        (b'{"schema": 5}', "not accepted here"),
        (b" " * (MAX_MESSAGE_BYTES + 1), "exceeds"),
    ],
)
def test_undecodable_values_are_refused(value: bytes | None, reason: str) -> None:
    with pytest.raises(InvalidMessage) as caught:
        decode(value, (ChainEvent,))
    assert reason in str(caught.value)


def test_a_topic_only_accepts_its_own_schemas() -> None:
    with pytest.raises(InvalidMessage, match="not accepted here"):
        decode(as_bytes(operation()), (ChainEvent, ChainReorg))


def test_every_schema_of_the_contract_has_a_model() -> None:
    now = datetime.now(UTC)
    models = [
        ChainReorg(
            chain_id=1,
            fork_block=5,
            orphaned_block_hashes=[HASH],
            new_head={"number": 6, "hash": HASH},
        ),
        OracleUserState(
            user_address=USER,
            bitcoin_addresses=[],
            last_synced_sats=0,
            last_sync_at=None,
            registered_at=None,
            emergency_burns=[],
            operations_performed=0,
            as_of=now,
        ),
        RegisteredContract(
            name="FeeVault",
            address=USER,
            chain_id=6342,
            deployed_block=1,
            code_present=True,
            observed_at=now,
        ),
        DeadLetter(
            source_topic="t",
            partition=0,
            offset=0,
            key=None,
            value_base64=None,
            error="e",
            service="s",
            failed_at=now,
        ),
    ]
    for model in models:
        again = decode(model.to_json(), (type(model),))
        assert again == model
