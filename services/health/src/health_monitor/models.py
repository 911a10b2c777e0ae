"""The JSON the health service answers with (and the report renders)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field
from reservesync.messages import Alert
from reservesync.types import UtcDatetime

from health_monitor.domain.lag import GroupLag
from health_monitor.domain.score import Component, ComponentHealth, MatrixRow
from health_monitor.producers import ProducerStatus


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True)


class Overall(StrEnum):
    HEALTHY = "healthy"
    DEGRADED = "degraded"
    CRITICAL = "critical"


class Usage(_Model):
    """The seed's "Current Usage Statistics", from counters and the source tallies."""

    active_users: int = Field(description="users in the database")
    users_pending: int = Field(description="users the sources know and the database lacks")
    total_transactions: int = Field(description="transactions in the database")
    transactions_by_type: dict[str, int] = Field(
        description="transaction-bearing events published on chain, per type"
    )
    rbtc_tracked_sats: int = Field(description="sum of the oracle's last synced balances")
    bitcoin_addresses_verified: int = Field(description="as the oracle reports them")
    bitcoin_addresses_monitored: int
    emergency_burns_database: int
    emergency_burns_oracle: int = Field(description="burns the oracle reports")
    emergency_burns_sources: int = Field(description="burns the chain or the oracle report")
    emergency_burned_sats: int
    yield_participants: bool = Field(description="at least one active YieldScales participant")


class DeadLetterCount(_Model):
    source_topic: str
    component: Component | None
    total: int = Field(description="dead letters still on the DLQ")
    recent: int = Field(description="dead letters of the growth window")


class WorldReport(_Model):
    """The world as health read it itself, beside what the producers published."""

    chain_head: int | None = Field(None, description="the node's head block")
    chain_read_through: int | None = Field(
        None, description="the last block whose logs health has read (canonical)"
    )
    chain_error: str | None = None
    listener_next_block: int | None = Field(
        None, description="the first block the chain-listener has not published (its heartbeat)"
    )
    reorg_rewinds: int = 0
    balances_checked: int = Field(0, description="user balances spot-checked against the chain")
    balance_passes: int = Field(0, description="complete passes over every user")
    balance_mismatches: int = Field(0, description="users whose synced balance differs")
    oracle_users: int | None = Field(None, description="users in the oracle's sealed state")
    oracle_journal: int | None = Field(None, description="operations in the oracle's journal")
    oracle_error: str | None = None


class CanaryReport(_Model):
    """A marker produced and read back committed, in the manner of KMinion."""

    last_round_trip_s: float | None = None
    last_seen_at: datetime | None = None
    failures: int = 0
    error: str | None = None


class OracleUserGap(_Model):
    """A user whose synced sats the oracle put on chain disagree with Bitcoin."""

    user: str
    synced_sats: int = Field(description="the newest synced balance on chain (balance_history)")
    previous_sats: int = Field(description="the synced balance before the newest change")
    bitcoin_sats: int = Field(description="confirmed sats of the user's verified addresses")
    gap_sats: int = Field(description="synced - Bitcoin")
    bitcoin_height: int = Field(description="the lowest height of the user's address balances")
    evm_block: int = Field(description="the block of the newest change of the synced balance")
    cause: str = Field(description="SYNC or EMERGENCY_BURN: what made the newest change")
    failed_to_zero: bool = Field(description="synced down (to 0) where Bitcoin shows no drop")
    diverging_blocks: int = Field(description="Bitcoin blocks the divergence has lasted")


class ReservesReport(_Model):
    """The reserves from both chains and the oracle judged against Bitcoin (not scored)."""

    supply_sats: int | None = Field(
        None, description="rBTC totalSupply in the newest reserves state the API published"
    )
    attested_btc_sats: int | None = Field(None, description="BTC in that state")
    pending_mint_sats: int = Field(
        0,
        description="sats of the oracle's MINT operations of the last "
        "HEALTH_PENDING_MINT_WINDOW_S whose Synced the database does not hold yet; the "
        "Secure-Mint rule (under_backed) counts supply + pending mint against Bitcoin",
    )
    pending_mints: int = Field(0, description="those MINT operations")
    supply_as_of: datetime | None = None
    bitcoin_sats: int | None = Field(
        None, description="confirmed sats of every verified address, as Bitcoin shows them"
    )
    bitcoin_addresses: int = Field(0, description="verified addresses Bitcoin has a balance of")
    verified_addresses: int = Field(
        0, description="verified addresses (under_backed is judged once Bitcoin has all)"
    )
    bitcoin_height: int | None = Field(None, description="the newest Bitcoin height known")
    bitcoin_backing_ratio: float | None = Field(
        None, description="Bitcoin's sats / supply (the Secure-Mint rule wants >= 1)"
    )
    users_checked: int = Field(0, description="user readings so far (rolling, and new syncs)")
    passes: int = Field(0, description="complete passes over the users with verified addresses")
    users_failed_to_zero: int = 0
    users_diverging: int = 0
    burns_in_window: int = Field(0, description="burns and syncs to 0 in the mass-burn window")
    burned_users_in_window: int = 0
    tolerance_sats: int = 0
    gaps: list[OracleUserGap] = Field(default_factory=list, description="the largest gaps")
    error: str | None = None


class HealthReport(_Model):
    score: float = Field(ge=0, le=100, description="weighted sum of the components, in percent")
    overall: Overall
    computed_at: UtcDatetime
    sources_ready: bool = Field(
        description="everything published before the start has been read; until then source "
        "counts are partial and no alerts are raised"
    )
    components: list[ComponentHealth]
    matrix: list[MatrixRow]
    lag: list[GroupLag]
    usage: Usage
    dead_letters: list[DeadLetterCount]
    alerts: list[Alert] = Field(description="alerts firing now (this service's and others')")
    world: WorldReport = Field(default_factory=WorldReport)
    producers: list[ProducerStatus] = Field(
        default_factory=list, description="liveness of each producer, from its heartbeat"
    )
    canary: CanaryReport | None = None
    reserves: ReservesReport | None = Field(
        None, description="the reserves from both chains and the oracle against Bitcoin"
    )


class ScorePoint(_Model):
    at: UtcDatetime
    score: float


class LagPoint(_Model):
    at: UtcDatetime
    lag: int
    seconds: float


class PartitionHistory(_Model):
    group: str
    topic: str
    partition: int
    points: list[LagPoint]


class History(_Model):
    score: list[ScorePoint]
    lag: list[PartitionHistory]


class DeadLetterEntry(_Model):
    """A dead letter without its payload (which may hold what only the database may keep)."""

    source_topic: str
    partition: int
    offset: int
    key: str | None
    error: str
    service: str
    failed_at: datetime
    component: Component | None
