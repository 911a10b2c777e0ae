"""The message models of the Kafka contract (SPEC section 3), defined once for every service."""

from reservesync.messages.alerts import Alert, AlertState, Severity
from reservesync.messages.base import Message
from reservesync.messages.bitcoin import BitcoinAddressBalance
from reservesync.messages.chain import BlockRef, ChainEvent, ChainReorg, make_event_id
from reservesync.messages.codec import InvalidMessage, decode
from reservesync.messages.contract_registry import RegisteredContract
from reservesync.messages.dlq import DeadLetter
from reservesync.messages.oracle import (
    KnownEmergencyBurn,
    Network,
    OperationStatus,
    OracleAction,
    OracleOperation,
    OracleUserState,
    WatchedBitcoinAddress,
)

__all__ = [
    "Alert",
    "AlertState",
    "BitcoinAddressBalance",
    "BlockRef",
    "ChainEvent",
    "ChainReorg",
    "DeadLetter",
    "InvalidMessage",
    "KnownEmergencyBurn",
    "Message",
    "Network",
    "OperationStatus",
    "OracleAction",
    "OracleOperation",
    "OracleUserState",
    "RegisteredContract",
    "Severity",
    "WatchedBitcoinAddress",
    "decode",
    "make_event_id",
]
