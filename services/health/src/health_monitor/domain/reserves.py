"""The reserves as the API last published them: the backing the health service watches."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Attestation:
    """The newest row of `proof_of_reserves` (one per distinct state the API published)."""

    rbtc_sats: int
    """The liabilities: rBTC totalSupply (rows before migration 0008: synced balances)."""
    btc_sats: int
    as_of: datetime
    unbacked_supply_sats: int = 0
    """Supply no synced balance backs (the API's named deficit; 0 on older rows)."""

    @property
    def fully_backed(self) -> bool:
        return self.btc_sats >= self.rbtc_sats and self.unbacked_supply_sats == 0

    @property
    def backing_ratio(self) -> float | None:
        return self.btc_sats / self.rbtc_sats if self.rbtc_sats else None
