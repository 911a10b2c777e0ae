"""The reserves as the API last published them: the backing the health service watches."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Attestation:
    """The newest row of `proof_of_reserves` (one per distinct state the API published)."""

    rbtc_sats: int
    btc_sats: int
    as_of: datetime

    @property
    def fully_backed(self) -> bool:
        return self.btc_sats >= self.rbtc_sats

    @property
    def backing_ratio(self) -> float | None:
        return self.btc_sats / self.rbtc_sats if self.rbtc_sats else None
