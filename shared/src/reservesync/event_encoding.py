"""A chain event's Kafka record (key and value) written straight from a decoded log, byte for
byte what the model would give, without building the model.

The chain-listener publishes every event it decodes; building each as a `ChainEvent` and
serialising it took 3 µs of its ~20 µs per event in a backfill, which runs on the same cores as
the node and the broker. The text of an event's value comes from the model itself: an
`EventTemplate` is the model's own JSON of a sample whose varying fields hold markers, so the
fields' order, names, separators and timestamp format cannot drift from `chain.event/v1`; the
markers then become the slots a log's values fill in.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from pydantic import TypeAdapter

from reservesync.contracts import SystemContract
from reservesync.messages import ChainEvent, make_event_id
from reservesync.messages.chain import USER_FIELDS, partition_key_of
from reservesync.types import UtcDatetime

_TIME = TypeAdapter(UtcDatetime)


def timestamp_json(timestamp: int) -> str | None:
    """A block's timestamp as an event's value carries it, quotes included: computed once per
    block, not once per event. None for a time no calendar holds (a hostile node's), whose
    events then go through the model to be refused with its reason."""
    try:
        return _TIME.dump_json(datetime.fromtimestamp(timestamp, UTC)).decode()
    except (ValueError, OverflowError, OSError):
        return None


class LogFields(Protocol):
    """What a template takes from a log besides its decoded arguments (the fields of
    `reservesync.event_decoding.NodeLog`, already checked to fit the model)."""

    address: str
    block_number: int
    block_hash: str
    tx_hash: str
    tx_index: int
    log_index: int


@dataclass(slots=True)
class EncodedEvent:
    """One event as it goes to Kafka, with the names its metrics and selection need. Nothing
    changes one once made; not frozen, as a frozen dataclass sets each field through
    `object.__setattr__`: a third of a microsecond per event of a backfill."""

    contract: SystemContract
    event: str
    key: bytes
    value: bytes

    @classmethod
    def of(cls, event: ChainEvent) -> EncodedEvent:
        return cls(event.contract, event.event, event.partition_key.encode(), event.to_json())


Arg = tuple[str, str, int]
"""(name, abi type, where its value is among the decoded values), in the ABI's order."""

# Markers unlike any value the sample could hold otherwise: each must occur once in its JSON.
_TEXT = "@{}@"
_NUMBER = 10**30
"""Beyond any integer field's range, so no chain id can be mistaken for a marker."""
_SAMPLE_TIME = datetime(2001, 2, 3, 4, 5, 6, tzinfo=UTC)
_ID_LOG_INDEX = _NUMBER + 4
_LOG_SLOTS = (
    # The event id's own parts: the id is written by `make_event_id` around them.
    ("event_id's tx_hash", "@id_tx_hash@", "%s"),
    ("event_id's log_index", str(_ID_LOG_INDEX), "%d"),
    ("block_number", str(_NUMBER + 1), "%d"),
    ("block_hash", '"@block_hash@"', '"%s"'),
    ("block_timestamp", _TIME.dump_json(_SAMPLE_TIME).decode(), "%s"),
    ("tx_hash", '"@tx_hash@"', '"%s"'),
    ("tx_index", str(_NUMBER + 2), "%d"),
    ("log_index", str(_NUMBER + 3), "%d"),
    ("address", '"@address@"', '"%s"'),
)
"""(field, its marker as the sample's JSON holds it, its slot), in the order `encode` fills
them; the arguments' slots follow."""


class EventTemplate:
    """The value of one event of one chain (contract, name and chain id fixed), for events
    whose arguments are all one ABI word (`EventSpec.words_only`): strings that need no
    escaping (decimal integers, lowercase hex) or booleans."""

    def __init__(
        self, chain_id: int, contract: SystemContract, event: str, args: Sequence[Arg]
    ) -> None:
        self.contract = contract
        self.event = event
        self._args: Callable[[Sequence[Any]], tuple[Any, ...]] = _picker([at for *_, at in args])
        self._booleans = tuple(i for i, (_, kind, _) in enumerate(args) if kind == "bool")
        names = [name for name, _, _ in args]
        self._users = tuple(names.index(field) for field in USER_FIELDS if field in names)
        self._text = _template(chain_id, contract, event, args)

    def encode(self, log: LogFields, time_json: str, decoded: Sequence[Any]) -> EncodedEvent:
        """The record of `log`, `decoded` being its values in the decoder's order (topics'
        first) and `time_json` its block's `timestamp_json`."""
        args = self._args(decoded)
        key = partition_key_of([args[i] for i in self._users], log.address)
        if self._booleans:
            args = tuple(
                ("true" if value else "false") if i in self._booleans else value
                for i, value in enumerate(args)
            )
        value = self._text % (
            log.tx_hash,
            log.log_index,
            log.block_number,
            log.block_hash,
            time_json,
            log.tx_hash,
            log.tx_index,
            log.log_index,
            log.address,
            *args,
        )
        return EncodedEvent(self.contract, self.event, key.encode(), value.encode())


def _picker(positions: list[int]) -> Callable[[Sequence[Any]], tuple[Any, ...]]:
    """The values at `positions`, as a tuple (itemgetter gives a bare value for one)."""
    if len(positions) > 1:
        return operator.itemgetter(*positions)
    if positions:
        at = positions[0]
        return lambda values: (values[at],)
    return lambda values: ()


def _template(chain_id: int, contract: SystemContract, event: str, args: Sequence[Arg]) -> str:
    """The model's JSON of a sample event with markers, its markers turned into %-slots.
    Raises if the model's JSON no longer holds each marker once, in the order filled."""
    marked: dict[str, Any] = {
        "schema_": ChainEvent.SCHEMA,
        "event_id": make_event_id(chain_id, "@id_tx_hash@", _ID_LOG_INDEX),
        "chain_id": chain_id,
        "block_number": _NUMBER + 1,
        "block_hash": _TEXT.format("block_hash"),
        "block_timestamp": _SAMPLE_TIME,
        "tx_hash": _TEXT.format("tx_hash"),
        "tx_index": _NUMBER + 2,
        "log_index": _NUMBER + 3,
        "contract": contract,
        "address": _TEXT.format("address"),
        "event": event,
        "args": {name: _TEXT.format(f"arg{i}") for i, (name, _, _) in enumerate(args)},
    }
    text = ChainEvent.trusted(marked).to_json().decode().replace("%", "%%")
    slots = [*_LOG_SLOTS]
    slots += [
        (name, f'"@arg{i}@"', "%s" if kind == "bool" else '"%s"')
        for i, (name, kind, _) in enumerate(args)
    ]
    start = 0
    for field, marker, slot in slots:
        if text.count(marker) != 1 or text.index(marker) < start:
            raise ValueError(
                f"chain.event/v1 no longer writes {field} as a template expects: {text}"
            )
        start = text.index(marker)
        text = text.replace(marker, slot)
    return text
