"""Messages of `rbtc.chain.events.v1`: decoded contract events and reorg notices."""

from __future__ import annotations

import re
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt, PositiveInt, model_validator

from reservesync.contracts import SystemContract, event_abi
from reservesync.messages.base import Message
from reservesync.types import Address, Hash32, UtcDatetime

ArgValue = str | bool
"""Decoded ABI values: integers as decimal strings, addresses lowercase, bytes as 0x-hex."""


_ADDRESS = re.compile(r"^0x[0-9a-f]{40}$")
_HEX = re.compile(r"^0x([0-9a-f]{2})*$")
_INTEGER = re.compile(r"^-?[0-9]{1,78}$")


def abi_value_problem(kind: str, value: ArgValue) -> str | None:
    """Why `value` cannot be a decoded `kind`, or None when it can."""
    if kind == "bool" or isinstance(value, bool):
        return None if kind == "bool" and isinstance(value, bool) else f"not a {kind}"
    if kind == "address":
        return None if _ADDRESS.match(value) else "must be a lowercase 0x address"
    if kind == "string":
        return None
    if kind.startswith(("uint", "int")):
        return _integer_problem(kind, value)
    return None if _HEX.match(value) else "must be 0x-prefixed lowercase hex"


def _integer_problem(kind: str, value: str) -> str | None:
    if not _INTEGER.match(value):
        return "must be a decimal integer string"
    bits = int(kind.lstrip("uint") or 256)
    signed = not kind.startswith("u")
    low, high = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2**bits - 1)
    return None if low <= int(value) <= high else f"outside [{low}, {high}]"


def make_event_id(chain_id: int, tx_hash: str, log_index: int) -> str:
    return f"{chain_id}:{tx_hash.lower()}:{log_index}"


class ChainEvent(Message):
    SCHEMA = "chain.event/v1"
    schema_: Literal["chain.event/v1"] = Field("chain.event/v1", alias="schema")
    event_id: str
    chain_id: PositiveInt
    block_number: NonNegativeInt
    block_hash: Hash32
    block_timestamp: UtcDatetime
    tx_hash: Hash32
    tx_index: NonNegativeInt
    log_index: NonNegativeInt
    contract: SystemContract
    address: Address
    event: str
    args: dict[str, ArgValue]

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        expected = make_event_id(self.chain_id, self.tx_hash, self.log_index)
        if self.event_id != expected:
            raise ValueError(f"event_id must be {expected!r}")
        abi = event_abi(self.contract, self.event)
        if abi is None:
            raise ValueError(f"{self.contract} has no event {self.event!r}")
        names = [item["name"] for item in abi["inputs"]]
        if sorted(self.args) != sorted(names):
            raise ValueError(f"{self.event} args must be exactly {names}")
        for item in abi["inputs"]:
            problem = abi_value_problem(item["type"], self.args[item["name"]])
            if problem:
                raise ValueError(f"{self.event}.{item['name']} ({item['type']}): {problem}")
        return self

    def arg_int(self, name: str) -> int:
        return int(self.args[name])

    def arg_address(self, name: str) -> str:
        return str(self.args[name])

    @property
    def partition_key(self) -> str:
        """Per-user ordering: the event's user if it has one, else the contract address."""
        for field in ("user", "to", "from", "owner"):
            value = self.args.get(field)
            if isinstance(value, str) and value != ZERO_ADDRESS:
                return value
        return self.address


ZERO_ADDRESS = "0x" + "0" * 40


class BlockRef(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    number: NonNegativeInt
    hash: Hash32


class ChainReorg(Message):
    SCHEMA = "chain.reorg/v1"
    schema_: Literal["chain.reorg/v1"] = Field("chain.reorg/v1", alias="schema")
    chain_id: PositiveInt
    fork_block: NonNegativeInt
    orphaned_block_hashes: list[Hash32] = Field(max_length=10_000)
    new_head: BlockRef
