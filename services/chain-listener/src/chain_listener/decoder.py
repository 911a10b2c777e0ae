"""Raw `eth_getLogs` entries → `chain.event/v1`, by the ABIs of the six system contracts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from eth_abi.abi import decode as abi_decode
from eth_utils.crypto import keccak
from reservesync.contracts import Deployment, SystemContract, events
from reservesync.messages import ChainEvent, make_event_id
from reservesync.messages.chain import ArgValue


class UnknownLog(ValueError):
    """A log from a watched address that none of its contract's events explain."""


@dataclass(frozen=True)
class EventSpec:
    contract: SystemContract
    name: str
    inputs: tuple[tuple[str, str, bool], ...]  # (name, abi type, indexed)

    @property
    def data_types(self) -> list[str]:
        return [kind for _, kind, indexed in self.inputs if not indexed]


def _signature(item: dict[str, Any]) -> bytes:
    types = ",".join(i["type"] for i in item["inputs"])
    return keccak(text=f"{item['name']}({types})")


def _value(kind: str, raw: Any) -> ArgValue:
    if kind == "address":
        return str(raw).lower()
    if kind == "bool":
        return bool(raw)
    if kind.startswith(("uint", "int")):
        return str(int(raw))
    if kind == "string":
        return str(raw)
    if isinstance(raw, bytes):
        return "0x" + raw.hex()
    return str(raw)


class EventDecoder:
    def __init__(self, chain_id: int, deployment: Deployment) -> None:
        self.chain_id = chain_id
        self.contract_at = {d.address: name for name, d in deployment.items()}
        self.specs: dict[tuple[SystemContract, bytes], EventSpec] = {}
        for contract in deployment:
            for item in events(contract):
                inputs = tuple((i["name"], i["type"], bool(i["indexed"])) for i in item["inputs"])
                self.specs[(contract, _signature(item))] = EventSpec(contract, item["name"], inputs)

    @property
    def addresses(self) -> list[str]:
        return list(self.contract_at)

    def decode(self, log: dict[str, Any], block_timestamp: int) -> ChainEvent:
        address = str(log["address"]).lower()
        contract = self.contract_at.get(address)
        if contract is None:
            raise UnknownLog(f"log from unwatched address {address}")
        topics = [bytes(t) for t in log["topics"]]
        spec = self.specs.get((contract, topics[0])) if topics else None
        if spec is None:
            topic0 = "0x" + topics[0].hex() if topics else "none"
            raise UnknownLog(f"{contract} emitted an event with unknown topic0 {topic0}")
        indexed = iter(topics[1:])
        data = abi_decode(spec.data_types, bytes(log["data"]))
        unindexed = iter(data)
        args: dict[str, ArgValue] = {}
        for name, kind, is_indexed in spec.inputs:
            if is_indexed:
                raw: Any = abi_decode([kind], next(indexed))[0]
            else:
                raw = next(unindexed)
            args[name] = _value(kind, raw)
        tx_hash = "0x" + bytes(log["transactionHash"]).hex()
        log_index = int(log["logIndex"])
        return ChainEvent(
            event_id=make_event_id(self.chain_id, tx_hash, log_index),
            chain_id=self.chain_id,
            block_number=int(log["blockNumber"]),
            block_hash="0x" + bytes(log["blockHash"]).hex(),
            block_timestamp=datetime.fromtimestamp(block_timestamp, UTC),
            tx_hash=tx_hash,
            tx_index=int(log["transactionIndex"]),
            log_index=log_index,
            contract=contract,
            address=address,
            event=spec.name,
            args=args,
        )
