"""health settings (environment names in capitals, e.g. `HEALTH_INTERVAL_S`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Self

from pydantic import Field, SecretStr, TypeAdapter, field_validator, model_validator
from reservesync.contracts import Deployment
from reservesync.settings import (
    ChainSettings,
    DatabaseSettings,
    HttpSettings,
    KafkaSettings,
    NameList,
)
from reservesync.topics import WRITER_SOURCES


class Settings(KafkaSettings, DatabaseSettings, ChainSettings, HttpSettings):
    health_interval_s: float = Field(5.0, gt=0, description="seconds between two evaluations")
    health_groups: NameList = Field(
        default_factory=lambda: ["rbtc-db-writer"],
        description="consumer groups whose lag is watched; the first is the db-writer whose "
        "database is scored",
    )
    health_writer_topics: NameList = Field(
        default_factory=lambda: [t.name for t in WRITER_SOURCES],
        description="what the db-writer's group must consume: its lag counts from the start, "
        "even before the group ever joined or committed",
    )
    health_lag_window: int = Field(
        10, ge=2, le=1000, description="offset samples per partition in Burrow's sliding window"
    )
    health_history_s: float = Field(
        600, gt=0, description="how far back the dashboard's lag and score history reach"
    )
    health_warn_score: float = Field(95, ge=0, le=100)
    health_critical_score: float = Field(80, ge=0, le=100)
    health_alert_raise_after_s: float = Field(
        30, ge=0, description="how long a condition must hold before its alert fires"
    )
    health_alert_resolve_after_s: float = Field(
        60, ge=0, description="how long a condition must be gone before its alert resolves"
    )
    health_dlq_window_s: float = Field(
        3600, gt=0, description="how long an unreadable dead letter counts against its component"
    )
    health_dlq_growth_s: float = Field(
        300, gt=0, description="dead letters newer than this make the DLQ-growth alert"
    )
    health_webhook_url: str | None = Field(None, description="JSON POST of every alert, if set")
    health_webhook_timeout_s: float = Field(5, gt=0)
    health_webhook_attempts: int = Field(6, ge=1, le=20)
    health_reorg_window_blocks: int = Field(
        1024, ge=1, description="blocks below the highest seen that a reorg may still orphan"
    )
    health_code_cache_s: float = Field(
        300, gt=0, description="how long a contract's code presence on chain is trusted"
    )

    # -- the world, read by health itself ---------------------------------------------------
    chain_contracts: Deployment = Field(
        default_factory=dict,
        description="JSON {contract name: {address, deployed_block}}: the six contracts whose "
        "logs health reads itself (the chain-listener's CHAIN_CONTRACTS)",
    )
    chain_contracts_file: Path | None = Field(
        None, description="a deployment record (compose's deploy job writes one) instead"
    )
    chain_confirmations: int = Field(
        2,
        ge=0,
        le=1000,
        description="the chain-listener's: blocks below the head it does not publish yet, so "
        "health does not count them yet either",
    )
    health_chain_grace_s: float = Field(
        5.0,
        ge=0,
        description="a block counts once the head has been past it this long: the time the "
        "pipeline is given before an event it has not written is missing",
    )
    health_chain_blocks_per_cycle: int = Field(
        20_000, ge=1, description="blocks of logs read per evaluation at most (bounded cost)"
    )
    health_chain_logs_per_cycle: int = Field(
        100_000,
        ge=1,
        description="logs read per evaluation at most: a digest range of a dense chain is "
        "committed in parts, so an evaluation stays short however many logs a block holds",
    )
    health_chain_range_blocks: int = Field(
        1000, ge=1, le=1000, description="blocks per eth_getLogs call at most (a digest range)"
    )
    health_chain_logs_per_call: int = Field(
        5000,
        ge=1,
        description="eth_getLogs ranges shrink when an answer holds far more logs than this "
        "(800 logs a block made a 1000-block call a response the node could not build)",
    )
    health_listener_max_behind_blocks: int = Field(
        20, ge=0, description="the chain-listener is behind when its next block is further back"
    )
    health_listener_max_behind_s: float = Field(
        30.0, gt=0, description="... and has been so for this long"
    )
    health_balance_checks_per_cycle: int = Field(
        50,
        ge=0,
        description="users whose synced balance is checked against the chain a cycle, "
        "at least (0: no balance check)",
    )
    health_balance_pass_s: float = Field(
        20.0,
        gt=0,
        description="every user's balance is checked within this: a cycle checks more users "
        "as they grow, up to HEALTH_BALANCE_CHECKS_MAX",
    )
    health_balance_checks_max: int = Field(
        2000, ge=1, description="users checked a cycle at most (bounds the cost of one cycle)"
    )
    oracle_users_url: str | None = Field(None, description="the oracle's sealed GET /users")
    oracle_operations_url: str | None = Field(None, description="the oracle's journal")
    oracle_state_key: SecretStr | None = Field(None, description="64 hex: the oracle's key")
    health_oracle_timeout_s: float = Field(10.0, gt=0)
    health_producers: dict[str, str] = Field(
        default_factory=dict,
        description="JSON {producer: probe base URL}: chain-listener, db-writer, oracle-logger "
        "(each answers /healthz from its heartbeat)",
    )
    health_producer_timeout_s: float = Field(
        2.0, gt=0, description="a probe unanswered this long counts as dead (a frozen process)"
    )
    health_producer_raise_after_s: float = Field(
        6.0, ge=0, description="how long a producer must be down before its alert fires"
    )
    health_canary_interval_s: float = Field(
        10.0, ge=0, description="how often a canary goes round the pipeline (0: never)"
    )
    # -- the oracle against Bitcoin (SPEC section 9) -----------------------------------------
    health_oracle_tolerance_sats: int = Field(
        1000, ge=0, description="a user's synced sats this close to Bitcoin's agree with it"
    )
    health_oracle_divergence_blocks: int = Field(
        6, ge=0, description="Bitcoin blocks a divergence must last before oracle_divergence"
    )
    health_oracle_drop_sats: int = Field(
        1_000_000,
        ge=1,
        description="a sync down by at least this much Bitcoin does not show is judged like a "
        "sync to 0 (oracle_fail_to_zero)",
    )
    health_mass_burn_users: int = Field(
        5, ge=1, description="users burned within the window that make mass_burn"
    )
    health_mass_burn_window_s: float = Field(600, gt=0, description="the mass-burn window")
    health_pending_mint_window_s: float = Field(
        3600,
        gt=0,
        description="an oracle MINT whose Synced is not in the database counts as pending mint "
        "(Secure-Mint rule) for this long after it was logged",
    )
    health_oracle_users_per_cycle: int = Field(
        200, ge=1, description="users of the rolling pass judged against Bitcoin a cycle"
    )
    health_oracle_rows_per_cycle: int = Field(
        5000, ge=1, description="new balance_history rows read a cycle at most"
    )
    health_oracle_max_user_alerts: int = Field(
        20, ge=1, description="per-user oracle alerts at most, the largest gaps first"
    )

    @field_validator("oracle_state_key")
    @classmethod
    def _hex_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            raw = value.get_secret_value()
            if len(raw) != 64 or any(c not in "0123456789abcdefABCDEF" for c in raw):
                raise ValueError("must be 64 hex characters (32 bytes)")
        return value

    @property
    def oracle_key(self) -> bytes | None:
        return (
            None
            if self.oracle_state_key is None
            else bytes.fromhex(self.oracle_state_key.get_secret_value())
        )

    @property
    def oracle_configured(self) -> bool:
        return bool(self.oracle_users_url and self.oracle_operations_url and self.oracle_key)

    @property
    def chain_start_block(self) -> int:
        return min((c.deployed_block for c in self.chain_contracts.values()), default=0)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if not self.health_groups:
            raise ValueError("HEALTH_GROUPS needs at least the db-writer's group")
        if not self.chain_contracts and self.chain_contracts_file is not None:
            record = json.loads(self.chain_contracts_file.read_text())
            contracts = TypeAdapter(Deployment).validate_python(record["contracts"])
            object.__setattr__(self, "chain_contracts", contracts)
        if self.health_critical_score > self.health_warn_score:
            raise ValueError("HEALTH_CRITICAL_SCORE must not exceed HEALTH_WARN_SCORE")
        return self

    @property
    def sink_group(self) -> str:
        return self.health_groups[0]
