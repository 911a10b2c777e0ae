"""An eth_getLogs answer decoded typed gives the logs, the errors and the dead-letter JSON that
`json.loads` and `NodeLog.parse` give, for a well-formed answer and a hostile one alike."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from reservesync.event_decoding import NodeLog
from reservesync.log_answers import WireLog, decode_logs_answer, node_logs, raw_json

LOG = {
    "removed": False,
    "logIndex": "0x2",
    "transactionIndex": "0x1",
    "transactionHash": "0x" + "CD" * 32,
    "blockHash": "0x" + "ab" * 32,
    "blockNumber": "0x10",
    "address": "0x" + "Ef" * 20,
    "data": "0x" + "00" * 31 + "05",
    "topics": ["0x" + "AA" * 32, "0x" + "00" * 12 + "bb" * 20],
}


def answer(result: object, **fields: object) -> bytes:
    return json.dumps({"jsonrpc": "2.0", "id": 7, "result": result, **fields}).encode()


def parsed_as_before(raw: bytes) -> list[NodeLog] | type[Exception]:
    """What the listener made of an answer before typed decoding, or the error's type."""
    try:
        return [NodeLog.parse(entry) for entry in json.loads(raw)["result"]]
    except Exception as error:  # the error's type is what is compared
        return type(error)


def parsed_typed(raw: bytes) -> list[NodeLog] | type[Exception]:
    try:
        return node_logs(decode_logs_answer(raw)["result"])
    except Exception as error:
        return type(error)


def test_a_well_formed_answer_decodes_typed_into_the_logs_parse_gives() -> None:
    without_removed = {k: v for k, v in LOG.items() if k != "removed"}
    raw = answer([LOG, LOG | {"logIndex": "0x3"}, without_removed])

    decoded = decode_logs_answer(raw)

    assert all(type(entry) is WireLog for entry in decoded["result"])
    logs = node_logs(decoded["result"])
    assert logs == parsed_as_before(raw)
    assert logs[0].address == "0x" + "ef" * 20
    assert logs[0].tx_hash == "0x" + "cd" * 32
    assert logs[0].topics[0] == "0x" + "aa" * 32
    assert logs[1].log_index == 3


def test_a_dead_letter_holds_the_log_s_fields_either_way() -> None:
    typed = node_logs(decode_logs_answer(answer([LOG]))["result"])[0]
    plain = NodeLog.parse(dict(LOG))

    assert json.loads(raw_json(typed)) == LOG
    assert raw_json(plain) == json.dumps(LOG, separators=(",", ":")).encode()


def test_an_error_answer_is_the_same_dict() -> None:
    error = {"code": -32005, "message": "query returned more than 10000 results"}
    raw = json.dumps({"jsonrpc": "2.0", "id": 1, "error": error}).encode()

    assert decode_logs_answer(raw) == json.loads(raw)


@pytest.mark.parametrize("body", [b"", b"<html>busy</html>", b'{"result": [', b"\xff\xfe"])
def test_a_body_that_is_not_json_raises_json_s_value_error(body: bytes) -> None:
    # The client takes a ValueError for an answer that is no JSON-RPC answer at all.
    with pytest.raises(json.JSONDecodeError, match="Expecting value"):
        decode_logs_answer(body)


ODD_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True),
    st.text(max_size=8),
    st.sampled_from(["0x", "0xZZ", " 0x10 ", "0x1_0", "0X10", "-0x1", "\u0660"]),
    st.lists(st.text(max_size=4), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


@st.composite
def hostile_logs(draw: st.DrawFn) -> dict[str, Any]:
    """A log with some fields missing, of another type, or odd strings, and maybe more."""
    entry: dict[str, Any] = dict(LOG)
    for name in draw(st.sets(st.sampled_from(sorted(LOG)), max_size=3)):
        if draw(st.booleans()):
            del entry[name]
        else:
            entry[name] = draw(ODD_VALUES)
    if draw(st.booleans()):
        entry[draw(st.text(min_size=1, max_size=6))] = draw(ODD_VALUES)
    return entry


@given(
    result=st.one_of(
        st.lists(st.one_of(st.just(LOG), hostile_logs()), max_size=4),
        ODD_VALUES,
    )
)
def test_any_answer_meets_the_checks_it_met_before(result: object) -> None:
    raw = answer(result)

    assert parsed_typed(raw) == parsed_as_before(raw)
