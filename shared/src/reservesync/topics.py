"""The topic registry (SPEC section 3): names, partitioning, retention, and what each carries."""

from __future__ import annotations

import functools
import operator
from dataclasses import dataclass, field
from typing import Any

from reservesync.messages import (
    Alert,
    BitcoinAddressBalance,
    ChainEvent,
    ChainReorg,
    DeadLetter,
    Message,
    OracleOperation,
    OracleUserState,
    RegisteredContract,
)

UNLIMITED = "-1"
DAY_MS = 24 * 60 * 60 * 1000


@dataclass(frozen=True)
class Topic:
    name: str
    partitions: int
    carries: tuple[type[Message], ...]
    configs: dict[str, str] = field(default_factory=dict)
    tombstones: bool = False
    """Whether a record may have a null value (a compacted topic's deletion of its key)."""

    def value_type(self) -> Any:
        """The type of the topic's record values, for the AsyncAPI document's payloads: the
        union of the messages it carries, with None where tombstones are part of its contract."""
        members: tuple[Any, ...] = (*self.carries, None) if self.tombstones else self.carries
        return functools.reduce(operator.or_, members)


# Twelve partitions on the per-user topics let up to twelve db-writers share the load.
CHAIN_EVENTS = Topic(
    "rbtc.chain.events.v1",
    12,
    (ChainEvent, ChainReorg),
    {"cleanup.policy": "delete", "retention.ms": UNLIMITED, "retention.bytes": UNLIMITED},
)
ORACLE_OPERATIONS = Topic(
    "rbtc.oracle.operations.v1",
    12,
    (OracleOperation,),
    {"cleanup.policy": "delete", "retention.ms": UNLIMITED, "retention.bytes": UNLIMITED},
)
ORACLE_STATE = Topic(
    "rbtc.oracle.state.v1",
    12,
    (OracleUserState,),
    {"cleanup.policy": "compact", "min.compaction.lag.ms": "60000"},
    tombstones=True,
)
REGISTRY = Topic("rbtc.registry.v1", 1, (RegisteredContract,), {"cleanup.policy": "compact"})
DLQ = Topic(
    "rbtc.dlq.v1",
    3,
    (DeadLetter,),
    {"cleanup.policy": "delete", "retention.ms": str(35 * DAY_MS)},
)
ALERTS = Topic(
    "rbtc.alerts.v1", 1, (Alert,), {"cleanup.policy": "delete", "retention.ms": str(30 * DAY_MS)}
)
# The chain-listener's own progress, written in the same Kafka transaction as the events it
# covers, so a restart resumes exactly where the last committed batch ended.
CHAIN_CHECKPOINTS = Topic("rbtc.chain.checkpoints.v1", 1, (), {"cleanup.policy": "compact"})
# Health's canary: a marker produced and read back committed, in the manner of KMinion.
HEALTH_CANARY = Topic(
    "rbtc.health.canary.v1", 1, (), {"cleanup.policy": "delete", "retention.ms": str(DAY_MS)}
)

# Bitcoin itself: the confirmed balance of every verified address (bitcoin-listener), latest per
# address; a tombstone when an address is no longer watched.
BITCOIN_BALANCES = Topic(
    "rbtc.bitcoin.balances.v1",
    12,
    (BitcoinAddressBalance,),
    {"cleanup.policy": "compact", "min.compaction.lag.ms": "60000"},
    tombstones=True,
)
# The bitcoin-listener's progress (height, recent hashes, the watched addresses' outputs),
# written in the same Kafka transaction as the balances it covers.
BITCOIN_CHECKPOINTS = Topic("rbtc.bitcoin.checkpoints.v1", 1, (), {"cleanup.policy": "compact"})

WRITER_SOURCES: tuple[Topic, ...] = (
    CHAIN_EVENTS,
    ORACLE_OPERATIONS,
    ORACLE_STATE,
    REGISTRY,
    BITCOIN_BALANCES,
)
"""What the db-writer stores: the topics of its consumer group (health's lag watches them)."""

ALL_TOPICS: tuple[Topic, ...] = (
    CHAIN_EVENTS,
    ORACLE_OPERATIONS,
    ORACLE_STATE,
    REGISTRY,
    DLQ,
    ALERTS,
    CHAIN_CHECKPOINTS,
    BITCOIN_BALANCES,
    BITCOIN_CHECKPOINTS,
    HEALTH_CANARY,
)
