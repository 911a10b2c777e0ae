"""chain-listener settings (environment names in capitals, e.g. `CHAIN_CONFIRMATIONS`)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Self

from pydantic import Field, TypeAdapter, model_validator
from reservesync.contracts import Deployment
from reservesync.settings import ChainSettings, KafkaSettings


class Settings(KafkaSettings, ChainSettings):
    chain_contracts: Deployment = Field(
        default_factory=dict,
        description="JSON: {contract name: {address, deployed_block}} of the system contracts",
    )
    chain_contracts_file: Path | None = Field(
        None, description="a deployment record (compose's deploy job writes one) instead"
    )
    chain_start_block: int = Field(0, ge=0)
    chain_delivery: Literal["finalized", "instant"] = "finalized"
    chain_confirmations: int = Field(2, ge=0, le=1000)
    chain_poll_interval_s: float = Field(0.5, gt=0)
    chain_max_block_range: int = Field(2000, ge=1)
    chain_transactional_id: str = Field(
        "chain-listener", description="one per chain: a restarted listener fences its zombie"
    )

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
        return self
