"""Messages of `rbtc.registry.v1` (compacted, keyed by contract name)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from reservesync.contracts import SystemContract
from reservesync.messages.base import Message
from reservesync.types import Address, Count, PositiveCount, UtcDatetime


class RegisteredContract(Message):
    SCHEMA = "registry.contract/v1"
    schema_: Literal["registry.contract/v1"] = Field("registry.contract/v1", alias="schema")
    name: SystemContract
    address: Address
    chain_id: PositiveCount
    deployed_block: Count
    code_present: bool
    observed_at: UtcDatetime
