"""chain-listener settings (environment names in capitals, e.g. `CHAIN_CONFIRMATIONS`)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Self

from pydantic import Field, TypeAdapter, field_validator, model_validator
from reservesync.contracts import Deployment
from reservesync.settings import ChainSettings, KafkaSettings, NameList

from chain_listener.selection import EventSelection, parse_event_names

INSTANT_POLL_INTERVAL_S = 0.25
"""The idle poll under instant delivery. A block waits half an interval on average before the
listener asks for it: at 0.5 s the p99 from block to committed row was ~550 ms at 100 events/s,
at 0.25 s ~290 ms, at 0.1 s ~140 ms (bench/latency.py). 0.25 s keeps an idle listener at four
eth_blockNumber calls a second, which metered providers count."""


class Settings(KafkaSettings, ChainSettings):
    chain_contracts: Deployment = Field(
        default_factory=dict,
        description="JSON: {contract name: {address, deployed_block}} of the system contracts",
    )
    chain_contracts_file: Path | None = Field(
        None, description="a deployment record (compose's deploy job writes one) instead"
    )
    chain_rpc_fallback_urls: NameList = Field(
        default_factory=list,
        description="more JSON-RPC URLs of the same chain, comma-separated or a JSON list; "
        "requests fail over to them when CHAIN_RPC_URL errs, times out or rate-limits",
    )
    chain_rpc_timeout_s: float = Field(30.0, gt=0)
    chain_rpc_batch_size: int = Field(
        100, ge=1, le=1000, description="requests per JSON-RPC batch (providers cap it)"
    )
    chain_start_block: int = Field(
        0, ge=0, description="where a listener without checkpoint starts"
    )
    chain_delivery: Literal["finalized", "instant"] = "finalized"
    chain_confirmations: int = Field(2, ge=0, le=1000)
    chain_poll_interval_s: float = Field(
        0.5,
        gt=0,
        description="how often the head is asked for when nothing is new; unset under instant "
        f"delivery it is {INSTANT_POLL_INTERVAL_S}",
    )
    chain_ws_url: str | None = Field(
        None,
        description="the node's WebSocket URL (ws:// or wss://): an eth_subscribe newHeads "
        "subscription wakes the listener when a block arrives, and the head is polled every "
        "CHAIN_POLL_INTERVAL_S only while it is down; unset: polling alone",
    )
    chain_ws_poll_interval_s: float = Field(
        5.0,
        gt=0,
        description="while the newHeads subscription is live the head is still asked for this "
        "often, so a lost notification delays a block by at most this much",
    )
    chain_initial_block_range: int = Field(
        5,
        ge=1,
        description="the first eth_getLogs range, small because nothing overlaps its answer "
        "(fetched, checked, decoded and published before any other work); it grows by half "
        "while answers are light",
    )
    chain_max_block_range: int = Field(2000, ge=1)
    chain_range_target_s: float = Field(
        2.0, gt=0, description="eth_getLogs ranges grow while a call takes well under this"
    )
    chain_target_logs_per_range: int = Field(
        10_000,
        ge=1,
        description="ranges grow while half again as many logs would fit in this, and shrink "
        "when an answer holds far more; 10,000 is what many providers cap an answer at",
    )
    chain_receipts_every_block: bool = Field(
        False,
        description="read the receipts of every block with our logs, not only of suspect ones "
        "(for a provider known to drop single logs from eth_getLogs; one more call per such "
        "block)",
    )
    chain_prefetch_ranges: int = Field(
        2, ge=1, le=16, description="verified ranges fetched ahead of the one being published"
    )
    chain_reorg_window: int = Field(
        128,
        ge=1,
        le=10_000,
        description="recent block hashes kept in the checkpoint to find a fork point",
    )
    chain_progress_interval_s: float = Field(5.0, gt=0)
    chain_registry_check_interval_s: float = Field(
        30.0, gt=0, description="how often code presence of the contracts is checked"
    )
    chain_transactional_id: str = Field(
        "chain-listener", description="one per chain: a restarted listener fences its zombie"
    )
    chain_events_include: NameList = Field(
        default_factory=list,
        description="publish only these events (`Contract.Event` or `Event`, comma-separated); "
        "empty: all",
    )
    chain_events_exclude: NameList = Field(
        default_factory=list, description="never publish these events (same form)"
    )
    chain_end_block: int | None = Field(
        None,
        ge=0,
        description="a backfill: publish through this block, then exit (the checkpoint stays)",
    )

    @field_validator("chain_ws_url")
    @classmethod
    def _websocket_scheme(cls, value: str | None) -> str | None:
        # Empty counts as unset: compose passes an unset variable on as "".
        if value and not value.startswith(("ws://", "wss://")):
            raise ValueError("CHAIN_WS_URL must start with ws:// or wss://")
        return value or None

    @field_validator("chain_events_include", "chain_events_exclude")
    @classmethod
    def _known_events(cls, value: list[str]) -> list[str]:
        return sorted(parse_event_names(value))

    @model_validator(mode="after")
    def _contracts_known(self) -> Self:
        if not self.chain_contracts and self.chain_contracts_file is not None:
            record = TypeAdapter(dict[str, object]).validate_json(
                self.chain_contracts_file.read_text()
            )
            contracts = TypeAdapter(Deployment).validate_python(record["contracts"])
            object.__setattr__(self, "chain_contracts", contracts)
        if not self.chain_contracts:
            raise ValueError("set CHAIN_CONTRACTS or CHAIN_CONTRACTS_FILE")
        if self.chain_end_block is not None and self.chain_end_block < self.chain_start_block:
            raise ValueError("CHAIN_END_BLOCK is before CHAIN_START_BLOCK")
        if self.chain_reorg_window <= self.chain_confirmations:
            raise ValueError("CHAIN_REORG_WINDOW must exceed CHAIN_CONFIRMATIONS")
        if (
            self.chain_delivery == "instant"
            and "chain_poll_interval_s" not in self.model_fields_set
        ):
            object.__setattr__(self, "chain_poll_interval_s", INSTANT_POLL_INTERVAL_S)
        return self

    @property
    def event_selection(self) -> EventSelection:
        return EventSelection(
            frozenset(self.chain_events_include), frozenset(self.chain_events_exclude)
        )

    @property
    def rpc_urls(self) -> list[str]:
        """The primary URL first, then the fallbacks, each once."""
        return list(dict.fromkeys([self.chain_rpc_url, *self.chain_rpc_fallback_urls]))

    @property
    def producer_transactional_id(self) -> str:
        return f"{self.chain_transactional_id}-{self.chain_id}"

    @property
    def checkpoint_key(self) -> bytes:
        """One checkpoint per listener identity and chain: two listeners with their own
        transactional ids (a test's, a standby's) never resume from each other's progress."""
        return f"{self.chain_transactional_id}/{self.chain_id}".encode()
