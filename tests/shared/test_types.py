"""Text the database can store: the message models refuse NUL and lone surrogates, so no
producer acknowledges (and no consumer tries to write) what PostgreSQL would refuse."""

from __future__ import annotations

import pytest
from pydantic import TypeAdapter, ValidationError
from reservesync.messages import InvalidMessage, OracleOperation, OracleUserState, decode
from reservesync.types import ShortText, storable

# Raw JSON, so the escapes reach the parser exactly as a client would send them.
_OPERATION = (
    '{"schema": "oracle.operation/v1", "operation_id": "op-text", "action": "SYNC", '
    '"user_address": "0x' + "ab" * 20 + '", "consensus_reached": true, "status": "success", '
    '"occurred_at": "2025-09-15T08:00:00Z", "oracle_id": "oracle-1", "reason": "REASON"}'
)


@pytest.mark.parametrize("text", ["plain", "emoji \U0001f600", "é\u200bà", "tab\tnewline\n"])
def test_storable_text_passes_unchanged(text: str) -> None:
    assert storable(text) == text
    assert TypeAdapter(ShortText).validate_python(text) == text


@pytest.mark.parametrize(
    ("text", "reason"),
    [("a\x00b", "NUL"), ("x\ud800y", "(?i)surrogate|unicode"), ("\udfff", "(?i)surrogate|unicode")],
)
def test_unstorable_text_is_refused(text: str, reason: str) -> None:
    with pytest.raises(ValidationError, match=reason):
        TypeAdapter(ShortText).validate_python(text)


@pytest.mark.parametrize("escaped", ["\\u0000", "bad \\ud800 half", "\\udc00"])
def test_messages_with_unstorable_text_are_refused(escaped: str) -> None:
    value = _OPERATION.replace("REASON", escaped).encode()
    with pytest.raises(InvalidMessage, match="reason"):
        decode(value, (OracleOperation,))


def test_user_state_burn_reasons_follow_the_same_rule() -> None:
    with pytest.raises(ValidationError, match="NUL"):
        OracleUserState.model_validate(
            {
                "user_address": "0x" + "cd" * 20,
                "bitcoin_addresses": [],
                "last_synced_sats": 0,
                "last_sync_at": None,
                "registered_at": None,
                "emergency_burns": [
                    {
                        "burned_sats": 1,
                        "reason": "no\x00fees",
                        "tx_hash": None,
                        "block_number": None,
                        "occurred_at": "2025-09-15T08:00:00Z",
                    }
                ],
                "operations_performed": 0,
                "as_of": "2025-09-15T08:00:00Z",
            }
        )


def test_a_block_number_beyond_a_bigint_is_refused() -> None:
    value = _OPERATION.replace('"reason": "REASON"', f'"block_number": {2**63}').encode()
    with pytest.raises(InvalidMessage, match="block_number"):
        decode(value, (OracleOperation,))
    fits = _OPERATION.replace('"reason": "REASON"', f'"block_number": {2**63 - 1}').encode()
    decoded = decode(fits, (OracleOperation,))
    assert isinstance(decoded, OracleOperation)
    assert decoded.block_number == 2**63 - 1
