"""The decoder builds an event without validating it again only where validation could not
have changed or refused it: the event equals the validated one, byte for byte on the wire, and
every value from a hostile node that the model refuses is still refused by the model, so its
dead letter says what it always said."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError
from reservesync.contracts import DeployedContract, SystemContract, events
from reservesync.event_decoding import EventDecoder, NodeLog
from reservesync.messages import ChainEvent

from tests.shared.test_abi_words import edge_words

CHAIN_ID = 31339
TIMESTAMP = 1_700_000_000
DEPLOYMENT = {
    contract: DeployedContract(address="0x" + f"{n + 1:02x}" * 20, deployed_block=1)
    for n, contract in enumerate(SystemContract)
}
DECODER = EventDecoder(CHAIN_ID, DEPLOYMENT)
WORD_EVENTS = sorted(
    ((spec.contract, topic0, spec) for (_, topic0), spec in DECODER.specs.items()),
    key=lambda item: (item[0].value, item[2].name),
)
DEPOSITED = next(
    (topic0, spec) for contract, topic0, spec in WORD_EVENTS if spec.name == "Deposited"
)


def node_log(contract: SystemContract, topics: list[str], data: str, **fields: Any) -> NodeLog:
    raw = {
        "address": DEPLOYMENT[contract].address,
        "topics": topics,
        "data": data,
        "blockNumber": "0x10",
        "blockHash": "0x" + "ab" * 32,
        "transactionHash": "0x" + "cd" * 32,
        "transactionIndex": "0x1",
        "logIndex": "0x2",
        "removed": False,
    }
    return NodeLog.parse(raw | fields)


def deposited(**fields: Any) -> NodeLog:
    topic0, _ = DEPOSITED
    user, amount = "00" * 12 + "ef" * 20, f"{5:064x}"
    return node_log(SystemContract.FEE_VAULT, [topic0, "0x" + user], "0x" + amount, **fields)


def validated(log: NodeLog) -> ChainEvent | ValidationError:
    """What the model says of the log's fields and the decoded arguments, validating all."""
    event = DECODER.decode(deposited(), TIMESTAMP)
    try:
        return ChainEvent(
            event_id=f"{CHAIN_ID}:{log.tx_hash}:{log.log_index}",
            chain_id=CHAIN_ID,
            block_number=log.block_number,
            block_hash=log.block_hash,
            block_timestamp=datetime.fromtimestamp(TIMESTAMP, UTC),
            tx_hash=log.tx_hash,
            tx_index=log.tx_index,
            log_index=log.log_index,
            contract=SystemContract.FEE_VAULT,
            address=log.address,
            event="Deposited",
            args=event.args,
        )
    except ValidationError as error:
        return error


each_word_event = pytest.mark.parametrize(
    ("contract", "topic0", "spec"),
    [item for item in WORD_EVENTS if item[2].words_only],
    ids=lambda value: getattr(value, "name", str(value))[:20],
)
"""Every event whose parameters are all one word, as (contract, topic0, spec)."""


@each_word_event
@given(data=st.data())
def test_an_event_built_unvalidated_is_the_validated_event(
    contract: SystemContract, topic0: str, spec: Any, data: st.DataObject
) -> None:
    indexed = [data.draw(edge_words()).hex() for _ in range(spec.indexed_count)]
    unindexed = [
        data.draw(edge_words()).hex() for _ in range(len(spec.inputs) - spec.indexed_count)
    ]
    log = node_log(contract, [topic0, *("0x" + t for t in indexed)], "0x" + "".join(unindexed))
    try:
        event = DECODER.decode(log, TIMESTAMP)
    except ValueError:
        return  # a word the ABI refuses: a dead letter either way
    again = ChainEvent.model_validate(event.to_dict())
    assert event == again
    assert event.to_json() == again.to_json()


@pytest.mark.parametrize(
    ("field", "value", "refused"),
    [
        ("blockHash", "0x" + "ab" * 31, "block_hash"),
        ("blockHash", "0x" + "zz" * 32, "block_hash"),
        ("transactionHash", "0x" + "cd" * 32 + "\n", "tx_hash"),
        ("transactionHash", "0x" + "cd" * 33, "tx_hash"),
        ("logIndex", "-0x1", "log_index"),
        ("logIndex", hex(2**31), "log_index"),
        ("transactionIndex", hex(2**31), "tx_index"),
        ("blockNumber", hex(2**63), "block_number"),
        ("blockNumber", "-0x10", "block_number"),
    ],
)
def test_a_hostile_nodes_value_is_refused_by_the_model_as_before(
    field: str, value: str, refused: str
) -> None:
    log = deposited(**{field: value})
    expected = validated(log)
    assert isinstance(expected, ValidationError)
    with pytest.raises(ValidationError) as raised:
        DECODER.decode(log, TIMESTAMP)
    assert str(raised.value) == str(expected)
    assert refused in str(raised.value)


def test_uppercase_hashes_are_carried_lowercase_as_the_model_would() -> None:
    log = deposited(blockHash="0x" + "AB" * 32, transactionHash="0x" + "CD" * 32)
    event = DECODER.decode(log, TIMESTAMP)
    assert event == validated(log)
    assert event.to_json() == ChainEvent.model_validate(event.to_dict()).to_json()


def test_every_event_with_a_string_is_still_validated() -> None:
    with_strings = {
        spec.name
        for _, _, spec in WORD_EVENTS
        if any(kind == "string" for _, kind, _ in spec.inputs)
    }
    assert with_strings == {"EmergencyBurn", "EmergencyBurnTriggered"}
    assert all(not spec.words_only for _, _, spec in WORD_EVENTS if spec.name in with_strings)
    assert all(spec.words_only for _, _, spec in WORD_EVENTS if spec.name not in with_strings), [
        spec.name for _, _, spec in WORD_EVENTS if not spec.words_only
    ]
    assert {spec.name for _, _, spec in WORD_EVENTS} >= {
        item["name"] for contract in SystemContract for item in events(contract)
    }


def _hex_of_any_length() -> st.SearchStrategy[str]:
    """Words as a hostile node might send them: whole, a byte short or long, not hex."""
    whole = edge_words().map(bytes.hex)
    return st.one_of(
        whole,
        whole.map(lambda text: text[:-2]),
        whole.map(lambda text: text + "00"),
        whole.map(lambda text: "zz" + text[2:]),
    )


def _outcome(read: Any) -> Any:
    try:
        return read()
    except ValueError as error:
        return f"refused: {error}"


@each_word_event
@given(data=st.data())
def test_topics_and_data_read_together_read_as_apart(
    contract: SystemContract, topic0: str, spec: Any, data: st.DataObject
) -> None:
    """One reading of the topics' words and the data's is the fast path; its values and its
    refusals (with their reasons) are those of reading each part apart."""
    topics = [data.draw(_hex_of_any_length()) for _ in range(spec.indexed_count)]
    words = len(spec.inputs) - spec.indexed_count + data.draw(st.integers(-1, 1))
    body = "".join(data.draw(_hex_of_any_length()) for _ in range(max(words, 0)))
    together = _outcome(lambda: spec.values((topic0, *("0x" + t for t in topics)), "0x" + body))
    apart = _outcome(lambda: spec.decode_topics("".join(topics)) + spec.decode_data(body))
    assert together == apart
