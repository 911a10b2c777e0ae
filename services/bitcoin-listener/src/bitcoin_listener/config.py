"""bitcoin-listener settings (environment names in capitals, e.g. `BTC_CONFIRMATIONS`)."""

from __future__ import annotations

from typing import Self

import aiohttp
from pydantic import AliasChoices, Field, SecretStr, model_validator
from reservesync.messages import Network
from reservesync.settings import KafkaSettings, NameList


class Settings(KafkaSettings):
    bitcoin_rpc_url: str = Field(
        "http://127.0.0.1:8332", description="a Bitcoin Core (or btcd) JSON-RPC endpoint"
    )
    btc_esplora_url: str | None = Field(
        None,
        validation_alias=AliasChoices("btc_esplora_url", "bitcoin_esplora_url"),
        description="an Esplora / mempool.space-compatible HTTP API (base URL, e.g. "
        "https://host/api) instead of BITCOIN_RPC_URL: set one of the two",
        pattern="^https?://",
    )
    bitcoin_rpc_fallback_urls: NameList = Field(
        default_factory=list,
        description="more JSON-RPC URLs of the same network, comma-separated or a JSON list",
    )
    bitcoin_rpc_user: str | None = Field(None, description="HTTP basic auth user of the RPC")
    bitcoin_rpc_password: SecretStr | None = Field(None, description="its password")
    bitcoin_rpc_timeout_s: float = Field(30.0, gt=0)
    bitcoin_rpc_batch_size: int = Field(50, ge=1, le=1000)
    bitcoin_network: Network = Field(
        Network.MAINNET, description="addresses of other networks are refused (dead letters)"
    )
    btc_confirmations: int = Field(
        6,
        ge=1,
        le=1000,
        validation_alias=AliasChoices("btc_confirmations", "bitcoin_confirmations"),
        description="a block counts once this many blocks (itself included) are on it",
    )
    bitcoin_start_height: int = Field(
        0, ge=0, description="the first block read; a newly watched address is rescanned from it"
    )
    bitcoin_reorg_window: int = Field(
        144, ge=2, le=10_000, description="processed blocks remembered to take a reorg back"
    )
    bitcoin_poll_interval_s: float = Field(1.0, gt=0)
    bitcoin_commit_every_blocks: int = Field(
        100, ge=1, description="a checkpoint at least this often while catching up"
    )
    bitcoin_transactional_id: str = Field(
        "bitcoin-listener", description="one per network: a restarted listener fences its zombie"
    )

    @model_validator(mode="after")
    def _window_covers_confirmations(self) -> Self:
        if self.bitcoin_reorg_window <= self.btc_confirmations:
            raise ValueError("BITCOIN_REORG_WINDOW must exceed BTC_CONFIRMATIONS")
        if self.btc_esplora_url is not None and (
            "bitcoin_rpc_url" in self.model_fields_set or self.bitcoin_rpc_fallback_urls
        ):
            raise ValueError(
                "set BTC_ESPLORA_URL or BITCOIN_RPC_URL (and its fallbacks), not both: "
                "the listener follows one Bitcoin source"
            )
        if (self.bitcoin_rpc_user is None) != (self.bitcoin_rpc_password is None):
            raise ValueError("set both BITCOIN_RPC_USER and BITCOIN_RPC_PASSWORD, or neither")
        return self

    @property
    def rpc_urls(self) -> list[str]:
        return list(dict.fromkeys([self.bitcoin_rpc_url, *self.bitcoin_rpc_fallback_urls]))

    @property
    def rpc_auth(self) -> aiohttp.BasicAuth | None:
        if self.bitcoin_rpc_user is None or self.bitcoin_rpc_password is None:
            return None
        return aiohttp.BasicAuth(
            self.bitcoin_rpc_user, self.bitcoin_rpc_password.get_secret_value()
        )

    @property
    def producer_transactional_id(self) -> str:
        return f"{self.bitcoin_transactional_id}-{self.bitcoin_network.value}"

    @property
    def checkpoint_key(self) -> bytes:
        return f"{self.bitcoin_transactional_id}/{self.bitcoin_network.value}".encode()
