"""The one EVM address rule (`reservesync.addresses`) and the message models that use it."""

from __future__ import annotations

import json

import pytest
from eth_account import Account
from reservesync import addresses
from reservesync.messages import InvalidMessage, OracleOperation, decode


def _operation(user_address: str) -> bytes:
    return json.dumps(
        {
            "schema": "oracle.operation/v1",
            "operation_id": "op-address",
            "action": "SYNC",
            "user_address": user_address,
            "consensus_reached": True,
            "status": "success",
            "occurred_at": "2025-09-15T08:00:00Z",
            "oracle_id": "oracle-1",
        }
    ).encode()


def _typo(checksummed: str) -> str:
    letter = next(i for i, c in enumerate(checksummed) if i > 1 and c.isalpha())
    return checksummed[:letter] + checksummed[letter].swapcase() + checksummed[letter + 1 :]


def _new_address() -> str:
    """A random checksummed address whose typo is still mixed case: with fewer than two
    letters, or when the flipped letter was the only one of its case, the typo reads as an
    all-lower or all-upper address, which carries no checksum and is rightly accepted."""
    while True:
        checksummed = str(Account.create().address)
        letters = [c for c in _typo(checksummed)[2:] if c.isalpha()]
        if any(c.isupper() for c in letters) and any(c.islower() for c in letters):
            return checksummed


def test_address_forms() -> None:
    checksummed = _new_address()
    lower = checksummed.lower()
    assert addresses.canonical(checksummed) == lower
    assert addresses.canonical(lower) == lower
    assert addresses.canonical("0x" + lower[2:].upper()) == lower
    with pytest.raises(addresses.InvalidAddress, match="checksum"):
        addresses.canonical(_typo(checksummed))
    for bad in ("", "0x", lower[:-1], lower + "0", "0X" + lower[2:], " " + lower, lower[2:] + "00"):
        with pytest.raises(addresses.InvalidAddress):
            addresses.canonical(bad)


def test_message_models_apply_the_same_rule() -> None:
    checksummed = _new_address()
    op = decode(_operation(checksummed), (OracleOperation,))
    assert isinstance(op, OracleOperation)
    assert op.user_address == checksummed.lower()
    with pytest.raises(InvalidMessage, match="checksum"):
        decode(_operation(_typo(checksummed)), (OracleOperation,))
    with pytest.raises(InvalidMessage, match="user_address"):
        decode(_operation("0x12"), (OracleOperation,))


def test_is_canonical_accepts_only_the_carried_form() -> None:
    checksummed = _new_address()
    assert addresses.is_canonical(checksummed.lower())
    assert addresses.is_canonical(addresses.canonical(checksummed))
    for not_carried in (checksummed, "0x" + checksummed[2:].upper(), "0x12", "*", ""):
        assert not addresses.is_canonical(not_carried)


def test_checksums_match_the_reference_implementation() -> None:
    for _ in range(50):
        reference = str(Account.create().address)
        assert addresses.checksummed(reference.lower()) == reference
    # EIP-55's own examples.
    for example in (
        "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
        "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
        "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
        "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
    ):
        assert addresses.checksummed(example.lower()) == example
        assert addresses.canonical(example) == example.lower()
