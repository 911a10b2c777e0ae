"""Messages of the oracle topics: operations (`rbtc.oracle.operations.v1`) and per-user state
(`rbtc.oracle.state.v1`, compacted)."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from reservesync.messages.base import Message
from reservesync.types import (
    Address,
    BigintCount,
    Hash32,
    Identifier,
    Sats,
    ShortText,
    UtcDatetime,
)


class OracleAction(StrEnum):
    SYNC = "SYNC"
    MINT = "MINT"
    BURN = "BURN"
    EMERGENCY_BURN = "EMERGENCY_BURN"
    NEEDS_TOPUP = "NEEDS_TOPUP"
    USER_DISCOVERED = "USER_DISCOVERED"
    USER_REGISTERED = "USER_REGISTERED"
    BTC_ADDRESS_VERIFIED = "BTC_ADDRESS_VERIFIED"
    BALANCE_CHECK = "BALANCE_CHECK"
    DISPUTE_RESOLVED = "DISPUTE_RESOLVED"


class OperationStatus(StrEnum):
    SUCCESS = "success"
    FAILED = "failed"
    SKIPPED = "skipped"


BitcoinAddress = ShortText
"""Bitcoin addresses are validated for shape only (bech32/base58 length), never decoded here."""


class OracleOperation(Message):
    SCHEMA = "oracle.operation/v1"
    schema_: Literal["oracle.operation/v1"] = Field("oracle.operation/v1", alias="schema")
    operation_id: Identifier
    action: OracleAction
    user_address: Address
    bitcoin_address: BitcoinAddress | None = Field(None, min_length=14, max_length=90)
    amount_sats: Sats | None = None
    previous_sats: Sats | None = None
    tx_hash: Hash32 | None = None
    block_number: BigintCount | None = None
    reason: ShortText | None = None
    consensus_reached: bool
    sources_used: list[Identifier] = Field(default_factory=list, max_length=32)
    status: OperationStatus
    occurred_at: UtcDatetime
    oracle_id: Identifier


class Network(StrEnum):
    MAINNET = "mainnet"
    TESTNET = "testnet"
    SIGNET = "signet"
    REGTEST = "regtest"


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WatchedBitcoinAddress(_Part):
    address: BitcoinAddress = Field(min_length=14, max_length=90)
    network: Network
    verified_at: UtcDatetime | None
    monitoring: bool


class KnownEmergencyBurn(_Part):
    burned_sats: Sats
    reason: ShortText
    tx_hash: Hash32 | None
    block_number: BigintCount | None
    occurred_at: UtcDatetime


class OracleUserState(Message):
    SCHEMA = "oracle.user_state/v1"
    schema_: Literal["oracle.user_state/v1"] = Field("oracle.user_state/v1", alias="schema")
    user_address: Address
    bitcoin_addresses: list[WatchedBitcoinAddress] = Field(max_length=1000)
    last_synced_sats: Sats
    last_sync_at: UtcDatetime | None
    registered_at: UtcDatetime | None
    emergency_burns: list[KnownEmergencyBurn] = Field(max_length=10_000)
    operations_performed: BigintCount
    as_of: UtcDatetime
