"""A record written from a template is the record of the model: for every event of the ABIs,
random words and random log fields give the same key and the same value bytes as building the
event and serialising it, and whatever the model refuses is refused with the same error."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from reservesync.contracts import SystemContract
from reservesync.event_decoding import NodeLog
from reservesync.event_encoding import EncodedEvent, EventTemplate, timestamp_json
from reservesync.messages import ChainEvent

from tests.shared.test_abi_words import edge_words
from tests.shared.test_event_decoding import DECODER, WORD_EVENTS, each_word_event, node_log


def _outcome(read: Any) -> Any:
    try:
        return read()
    except Exception as error:  # the same error, whatever it is, is what is compared
        return f"{type(error).__name__}: {error}"


def _log_fields() -> st.SearchStrategy[dict[str, Any]]:
    """A node's fields of a log, mostly as a node sends them, now and then as a hostile one."""
    hashes = st.binary(min_size=32, max_size=32).map(lambda b: "0x" + b.hex())
    return st.fixed_dictionaries(
        {
            "blockNumber": st.integers(0, 2**64).map(hex),
            "blockHash": st.one_of(hashes, hashes.map(str.upper), st.just("0x" + "ab" * 31)),
            "transactionHash": st.one_of(hashes, hashes.map(lambda h: "0x" + h[2:].upper())),
            "transactionIndex": st.integers(0, 2**32).map(hex),
            "logIndex": st.integers(0, 2**32).map(hex),
        }
    )


def _both_ways(log: NodeLog, timestamp: int) -> tuple[Any, Any]:
    templated = _outcome(lambda: DECODER.encode(log, timestamp, timestamp_json(timestamp)))
    modelled = _outcome(lambda: EncodedEvent.of(DECODER.decode(log, timestamp)))
    return templated, modelled


@each_word_event
@given(data=st.data())
def test_a_templated_record_is_the_models_record(
    contract: SystemContract, topic0: str, spec: Any, data: st.DataObject
) -> None:
    fields = data.draw(_log_fields())
    # Block times of this era, and now and then one no calendar holds.
    timestamp = data.draw(st.one_of(st.integers(0, 2**34), st.integers(2**40, 2**70)))
    indexed = ["0x" + data.draw(edge_words()).hex() for _ in range(spec.indexed_count)]
    words = "".join(
        data.draw(edge_words()).hex() for _ in range(len(spec.inputs) - spec.indexed_count)
    )
    log = node_log(contract, [topic0, *indexed], "0x" + words, **fields)
    templated, modelled = _both_ways(log, timestamp)
    assert templated == modelled


def test_an_event_with_a_string_is_still_built_by_the_model() -> None:
    topic0, spec = next((t, s) for _, t, s in WORD_EVENTS if s.name == "EmergencyBurn")
    assert (spec.contract, topic0) not in DECODER.templates
    user = "0x" + "00" * 12 + "ef" * 20
    # burnedAmount, then the string's offset (two words in), its length and its bytes.
    data = f"{5:064x}{64:064x}{5:064x}" + b"drill".ljust(32, b"\0").hex()
    log = node_log(spec.contract, [topic0, user], "0x" + data)
    templated, modelled = _both_ways(log, 1_700_000_000)
    assert isinstance(templated, EncodedEvent)
    assert templated == modelled
    assert b'"reason":"drill"' in templated.value


@pytest.mark.parametrize("name", ["Synced", "Deposited", "YieldClaimed"])
def test_the_key_is_the_models_partition_key(name: str) -> None:
    """A user of zero falls back to the contract's address, as `ChainEvent.partition_key`."""
    topic0, spec = next((t, s) for _, t, s in WORD_EVENTS if s.name == name)
    zero_user = "0x" + "00" * 32
    rest = "".join(f"{7:064x}" for _ in range(len(spec.inputs) - spec.indexed_count))
    topics = [topic0, *([zero_user] * spec.indexed_count)]
    log = node_log(spec.contract, topics, "0x" + rest)
    templated, modelled = _both_ways(log, 1_700_000_000)
    assert templated == modelled
    assert isinstance(templated, EncodedEvent)
    event = DECODER.decode(log, 1_700_000_000)
    assert templated.key == event.partition_key.encode()


def test_a_template_refuses_a_model_that_no_longer_writes_its_markers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A model that writes a field's value otherwise (here: uppercase) stops every decoder
    from being built, rather than letting the template write what the model would not."""
    written = ChainEvent.to_json

    def uppercase_hashes(self: ChainEvent) -> bytes:
        return written(self).replace(b"@tx_hash@", b"@TX_HASH@")

    monkeypatch.setattr(ChainEvent, "to_json", uppercase_hashes)
    with pytest.raises(ValueError, match="no longer writes tx_hash"):
        EventTemplate(1, SystemContract.FEE_VAULT, "Deposited", [("user", "address", 0)])


def test_booleans_and_fixed_bytes_are_written_as_the_model_writes_them() -> None:
    """No event of today's ABIs has them; an event that does is written the same way."""
    args = [("user", "address", 0), ("paused", "bool", 2), ("tag", "bytes32", 1)]
    template = EventTemplate(1, SystemContract.FEE_VAULT, "Flagged", args)
    log = node_log(SystemContract.FEE_VAULT, ["0x" + "00" * 32], "0x")
    decoded = ("0x" + "ef" * 20, "0x" + "ab" * 32, True)
    time_json = timestamp_json(1_700_000_000)
    assert time_json is not None
    written = template.encode(log, time_json, decoded)
    event = ChainEvent.trusted(
        {
            "schema_": ChainEvent.SCHEMA,
            "event_id": f"1:{log.tx_hash}:{log.log_index}",
            "chain_id": 1,
            "block_number": log.block_number,
            "block_hash": log.block_hash,
            "block_timestamp": datetime.fromtimestamp(1_700_000_000, UTC),
            "tx_hash": log.tx_hash,
            "tx_index": log.tx_index,
            "log_index": log.log_index,
            "contract": SystemContract.FEE_VAULT,
            "address": log.address,
            "event": "Flagged",
            "args": {"user": decoded[0], "paused": True, "tag": decoded[1]},
        }
    )
    assert written == EncodedEvent.of(event)
    assert b'"paused":true' in written.value
