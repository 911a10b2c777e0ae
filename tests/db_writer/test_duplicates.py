"""The content digest that tells an identical duplicate from a conflicting one."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from db_writer.duplicates import content_digest
from reservesync.contracts import SystemContract
from reservesync.messages import ChainEvent, decode, make_event_id

TX = "0x" + "11" * 32
EVENT = ChainEvent(
    event_id=make_event_id(1, TX, 0),
    chain_id=1,
    block_number=5,
    block_hash="0x" + "22" * 32,
    block_timestamp=datetime(2025, 9, 12, 9, 0, tzinfo=UTC),
    tx_hash=TX,
    tx_index=0,
    log_index=0,
    contract=SystemContract.FEE_VAULT,
    address="0x" + "ab" * 20,
    event="Deposited",
    args={"user": "0x" + "44" * 20, "amount": "5"},
)


def test_the_same_content_written_another_way_has_the_same_digest() -> None:
    wire = EVENT.to_dict()
    wire["args"] = {"amount": "5", "user": "0x" + "44" * 20}  # not in ABI order
    wire["address"] = "0x" + "AB" * 20  # any case, carried lowercase
    wire["block_timestamp"] = "2025-09-12T11:00:00+02:00"  # the same instant
    reordered = json.dumps(dict(reversed(list(wire.items()))), indent=2).encode()
    assert content_digest(decode(reordered, (ChainEvent,))) == content_digest(EVENT)


def test_other_content_has_another_digest() -> None:
    other = EVENT.model_copy(update={"args": {"user": "0x" + "44" * 20, "amount": "6"}})
    moved = EVENT.model_copy(update={"block_hash": "0x" + "33" * 32})
    digests = {content_digest(m) for m in (EVENT, other, moved)}
    assert len(digests) == 3
