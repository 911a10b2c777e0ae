"""Messages of `rbtc.chain.events.v1`: decoded contract events and reorg notices."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from reservesync.contracts import SystemContract
from reservesync.messages.abi_values import ArgValue, event_shape
from reservesync.messages.base import Message
from reservesync.types import Address, Count, Hash32, PositiveCount, SmallIndex, UtcDatetime

__all__ = [
    "USER_FIELDS",
    "ZERO_ADDRESS",
    "ArgValue",
    "BlockRef",
    "ChainEvent",
    "ChainReorg",
    "make_event_id",
    "partition_key_of",
]


def make_event_id(chain_id: int, tx_hash: str, log_index: int) -> str:
    return f"{chain_id}:{tx_hash.lower()}:{log_index}"


class ChainEvent(Message):
    SCHEMA = "chain.event/v1"
    schema_: Literal["chain.event/v1"] = Field("chain.event/v1", alias="schema")
    event_id: str
    chain_id: PositiveCount
    block_number: Count
    block_hash: Hash32
    block_timestamp: UtcDatetime
    tx_hash: Hash32
    tx_index: SmallIndex
    log_index: SmallIndex
    contract: SystemContract
    address: Address
    event: str
    args: dict[str, ArgValue]

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        expected = make_event_id(self.chain_id, self.tx_hash, self.log_index)
        if self.event_id != expected:
            raise ValueError(f"event_id must be {expected!r}")
        shape = event_shape(self.contract, self.event)
        if shape is None:
            raise ValueError(f"{self.contract} has no event {self.event!r}")
        problem = shape.problem(self.event, self.args)
        if problem:
            raise ValueError(problem)
        return self

    def arg_int(self, name: str) -> int:
        return int(self.args[name])

    def arg_address(self, name: str) -> str:
        return str(self.args[name])

    @property
    def partition_key(self) -> str:
        """Per-user ordering: the event's user if it has one, else the contract address."""
        return partition_key_of([self.args.get(field) for field in USER_FIELDS], self.address)


USER_FIELDS = ("user", "to", "from", "owner")
"""The arguments that name an event's user, the first one set the one it is keyed by."""


def partition_key_of(users: Sequence[object], address: str) -> str:
    """The first of the values of `USER_FIELDS` an event has that is an address other than
    zero; else the emitting contract's address."""
    for value in users:
        if isinstance(value, str) and value != ZERO_ADDRESS:
            return value
    return address


ZERO_ADDRESS = "0x" + "0" * 40


class BlockRef(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    number: Count
    hash: Hash32


class ChainReorg(Message):
    SCHEMA = "chain.reorg/v1"
    schema_: Literal["chain.reorg/v1"] = Field("chain.reorg/v1", alias="schema")
    chain_id: PositiveCount
    fork_block: Count
    orphaned_block_hashes: list[Hash32] = Field(max_length=10_000)
    new_head: BlockRef
