"""Raw logs → `chain.event/v1`, by the ABIs of the system contracts: one decoding for the
chain-listener, which publishes the events, and the health service, which reads the chain
itself to judge what was published and written."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from eth_abi.exceptions import DecodingError
from eth_utils.crypto import keccak

from reservesync.abi_decoders import WORD, HexDecode, hex_decoder, topic_type, words_decoder
from reservesync.contracts import Deployment, SystemContract, events
from reservesync.event_encoding import EncodedEvent, EventTemplate
from reservesync.messages import ChainEvent, make_event_id
from reservesync.types import HASH32_PATTERN, INT32_MAX, INT64_MAX

_HASH = re.compile(HASH32_PATTERN)
"""A hash as `Hash32` accepts it (NodeLog lowercases, as `Hash32` does)."""


@dataclass(slots=True)
class NodeLog:
    """A log as the node answered `eth_getLogs` (addresses and hashes lowercase): what the
    chain-listener publishes from and health reads the chain with. Nothing changes one once
    parsed; it is not frozen because a frozen dataclass sets each field through
    `object.__setattr__`, a microsecond per log of a backfill."""

    address: str
    topics: tuple[str, ...]
    data: str
    block_number: int
    block_hash: str
    tx_hash: str
    tx_index: int
    log_index: int
    removed: bool
    raw: object = field(repr=False, compare=False)
    """What the node's JSON was decoded into, kept for a dead letter: its dict, or the struct
    of a typed answer (`reservesync.log_answers.raw_json` writes either)."""

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> NodeLog:
        """A log from the node's JSON as a dict, whatever types its values came as."""
        return cls.of_strings(
            str(raw["address"]),
            [str(t) for t in raw["topics"]],
            str(raw["data"]),
            raw["blockNumber"],
            str(raw["blockHash"]),
            str(raw["transactionHash"]),
            raw["transactionIndex"],
            raw["logIndex"],
            bool(raw.get("removed", False)),
            raw,
        )

    @classmethod
    def of_strings(  # noqa: PLR0917 - positional on purpose, see below
        cls,
        address: str,
        topics: list[str],
        data: str,
        block_number: str,
        block_hash: str,
        tx_hash: str,
        tx_index: str,
        log_index: str,
        removed: bool,
        raw: object,
    ) -> NodeLog:
        """A log from the node's strings: hex quantities read, addresses and hashes lowercase.
        Positional below: keywords cost a third of a microsecond per log of a backfill."""
        return cls(
            address.lower(),
            # A list, not a generator: one log of a backfill costs a microsecond less.
            tuple([t.lower() for t in topics]),
            data,
            int(block_number, 16),
            block_hash.lower(),
            tx_hash.lower(),
            int(tx_index, 16),
            int(log_index, 16),
            removed,
            raw,
        )

    @property
    def fits_the_model(self) -> bool:
        """Whether `chain.event/v1` takes this log's own fields as they are: hashes of 32
        bytes, a block number a bigint holds and indexes an integer holds. A hostile node's
        value that fails this is built through the model's validation, whose error names
        the field in the dead letter as before."""
        return (
            0 <= self.block_number <= INT64_MAX
            and 0 <= self.tx_index <= INT32_MAX
            and 0 <= self.log_index <= INT32_MAX
            and _HASH.fullmatch(self.block_hash) is not None
            and _HASH.fullmatch(self.tx_hash) is not None
        )


class UnknownLog(ValueError):
    """A log from a watched address that none of its contract's events explain."""


@dataclass(frozen=True)
class EventSpec:
    contract: SystemContract
    name: str
    inputs: tuple[tuple[str, str, bool], ...]  # (name, abi type, indexed)
    decode_topics: HexDecode
    decode_data: HexDecode
    decode_words: HexDecode | None
    """Where every parameter is one word: the topics' words and the data's in one reading."""
    positions: tuple[tuple[str, int], ...]
    """Each parameter in the ABI's order (the order `args` carries them in), with where its
    value is among the topics' values followed by the data's."""

    indexed_count: int

    @classmethod
    def of(cls, contract: SystemContract, item: dict[str, Any]) -> EventSpec:
        inputs = tuple((i["name"], i["type"], bool(i["indexed"])) for i in item["inputs"])
        topic_types = [topic_type(kind) for _, kind, indexed in inputs if indexed]
        data_types = [kind for _, kind, indexed in inputs if not indexed]
        # Input indexes in the order their values are decoded: the indexed ones first.
        decoded_order = sorted(range(len(inputs)), key=lambda i: not inputs[i][2])
        return cls(
            contract,
            item["name"],
            inputs,
            hex_decoder(topic_types),
            hex_decoder(data_types),
            words_decoder([*topic_types, *data_types]),
            tuple((name, decoded_order.index(i)) for i, (name, _, _) in enumerate(inputs)),
            len(topic_types),
        )

    @property
    def words_only(self) -> bool:
        """Every parameter is read word by word, with checks at least as strict as the
        model's (`reservesync.abi_decoders`): the values need no second validation. A string,
        read by eth_abi, still gets the model's (its length limit among them)."""
        return self.decode_words is not None

    @property
    def args(self) -> list[tuple[str, str, int]]:
        """(name, abi type, where its value is among those `values` returns), in the ABI's
        order."""
        pairs = zip(self.inputs, self.positions, strict=True)
        return [(name, kind, at) for (name, kind, _), (_, at) in pairs]

    def values(self, topics: tuple[str, ...], data: str) -> tuple[str | bool, ...]:
        """The parameters' values, topics' first, from the hex of a log with the right count
        of topics."""
        words = "".join([t[2:] for t in topics[1:]])
        if self.decode_words is not None and len(words) == WORD * self.indexed_count:
            try:
                return self.decode_words(words + data[2:])
            except ValueError:
                pass  # read apart below, so that the error names the part at fault
        return self.decode_topics(words) + self.decode_data(data[2:])


def _topic0(item: dict[str, Any]) -> str:
    types = ",".join(i["type"] for i in item["inputs"])
    return "0x" + keccak(text=f"{item['name']}({types})").hex()


class EventDecoder:
    def __init__(self, chain_id: int, deployment: Deployment) -> None:
        self.chain_id = chain_id
        self._chain_id_fits = 0 < chain_id <= INT64_MAX
        self.contract_at = {d.address: name for name, d in deployment.items()}
        self.specs: dict[tuple[SystemContract, str], EventSpec] = {}
        for contract in deployment:
            for item in events(contract):
                self.specs[(contract, _topic0(item))] = EventSpec.of(contract, item)
        self.templates = {
            key: EventTemplate(chain_id, spec.contract, spec.name, spec.args)
            for key, spec in self.specs.items()
            if spec.words_only
        }

    @property
    def addresses(self) -> list[str]:
        return list(self.contract_at)

    def decode(self, log: NodeLog, block_timestamp: int) -> ChainEvent:
        """The event, or `UnknownLog`/`ValueError` saying why the log is not one."""
        return self._built(log, *self._read(log), block_timestamp)

    def encode(self, log: NodeLog, block_timestamp: int, time_json: str | None) -> EncodedEvent:
        """The event's Kafka record, as `EncodedEvent.of(self.decode(log, block_timestamp))`
        gives it, or the same error; where the model would take the log as it is, written
        without building the model. `time_json`: `timestamp_json(block_timestamp)`."""
        spec, decoded = self._read(log)
        if time_json and self._vouched_for(spec, log):
            template = self.templates[(spec.contract, log.topics[0])]
            return template.encode(log, time_json, decoded)
        return EncodedEvent.of(self._built(log, spec, decoded, block_timestamp))

    def _vouched_for(self, spec: EventSpec, log: NodeLog) -> bool:
        """Whether the model would take the event as it is: every parameter read word by word,
        and the chain id and the log's own fields within the model's bounds."""
        return spec.words_only and self._chain_id_fits and log.fits_the_model

    def _read(self, log: NodeLog) -> tuple[EventSpec, tuple[str | bool, ...]]:
        """The log's event and its parameters' values (topics' first), or `UnknownLog`."""
        contract = self.contract_at.get(log.address)
        if contract is None:
            raise UnknownLog(f"log from unwatched address {log.address}")
        spec = self.specs.get((contract, log.topics[0])) if log.topics else None
        if spec is None:
            topic0 = log.topics[0] if log.topics else "none (anonymous log)"
            raise UnknownLog(f"{contract} emitted an event with unknown topic0 {topic0}")
        if len(log.topics) - 1 != spec.indexed_count:
            raise UnknownLog(
                f"{contract}.{spec.name} needs {spec.indexed_count} indexed topics, "
                f"the log has {len(log.topics) - 1}"
            )
        try:
            return spec, spec.values(log.topics, log.data)
        except (DecodingError, ValueError) as exc:
            raise UnknownLog(f"{contract}.{spec.name} does not decode: {exc}") from exc

    def _built(
        self,
        log: NodeLog,
        spec: EventSpec,
        decoded: tuple[str | bool, ...],
        block_timestamp: int,
    ) -> ChainEvent:
        args = {name: decoded[at] for name, at in spec.positions}
        values = {
            "schema_": ChainEvent.SCHEMA,
            "event_id": make_event_id(self.chain_id, log.tx_hash, log.log_index),
            "chain_id": self.chain_id,
            "block_number": log.block_number,
            "block_hash": log.block_hash,
            "block_timestamp": datetime.fromtimestamp(block_timestamp, UTC),
            "tx_hash": log.tx_hash,
            "tx_index": log.tx_index,
            "log_index": log.log_index,
            # The watched address, as the deployment's validated model holds it.
            "contract": spec.contract,
            "address": log.address,
            "event": spec.name,
            "args": args,
        }
        # The id is made of the same fields, the contract and event come from the ABI the
        # model checks against, and the rest was checked above: nothing is left to validate.
        if self._vouched_for(spec, log):
            return ChainEvent.trusted(values)
        return ChainEvent.model_validate(values)
