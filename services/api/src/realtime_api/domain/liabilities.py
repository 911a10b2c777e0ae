"""The liabilities of the proof of reserves, from the token itself, the BTC that backs them,
from Bitcoin itself, and what neither the synced balances nor that BTC back.

Every rBTC is minted against a balance the oracle synced, and a sync down burns the user's
unwrapped rBTC first, then slashes their wrBTC. wrBTC the user moved to another holder cannot
be slashed, so that burn falls short: the supply stays above the sum of synced balances, and
the difference is supply that no synced balance backs. It is shown, named, never dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

UNBACKED_SUPPLY = "unbacked_supply_sats"
UNBACKED_EXPLANATION = (
    "rBTC supply (totalSupply: every holder's rBTC, the wrap vault's included) above the sum "
    "of the balances the oracle synced: tokens no synced balance backs, typically wrBTC moved "
    "to another holder before its wrapper was synced down (the burn could not slash it)"
)
UNBACKED_BY_BTC = "unbacked_by_btc_sats"
UNBACKED_BY_BTC_EXPLANATION = (
    "rBTC supply (totalSupply) above the BTC Bitcoin shows on the users' verified addresses "
    "(confirmed at btc_height): tokens no BTC backs (wrBTC held by someone with no BTC, a "
    "balance the oracle synced above what Bitcoin shows, BTC spent since the sync)"
)


@dataclass(frozen=True)
class Liabilities:
    rbtc_supply: int
    """rBTC totalSupply: the sum of every holder's rBTC (minted - burned)."""
    wrbtc_outstanding: int
    """wrBTC totalSupply, backed 1:1 by the vault's rBTC."""
    vault_rbtc: int
    """The wrap vault's rBTC: equal to wrbtc_outstanding unless the vault misbehaves."""
    synced_sats: int
    """The sum of every user's synced balance (the oracle's view, on chain)."""
    btc_held: int
    """The confirmed sats of every user's verified Bitcoin addresses (Bitcoin's view)."""

    @property
    def unbacked_by_btc(self) -> int:
        return max(0, self.rbtc_supply - self.btc_held)

    @property
    def backing_ratio(self) -> float | None:
        """BTC held over the rBTC supply (None: no supply); below 1 is critical."""
        return self.btc_held / self.rbtc_supply if self.rbtc_supply else None

    @property
    def unbacked_supply(self) -> int:
        return max(0, self.rbtc_supply - self.synced_sats)

    @property
    def vault_gap(self) -> int:
        """wrBTC outstanding beyond the rBTC the vault holds (0 when the vault is whole)."""
        return max(0, self.wrbtc_outstanding - self.vault_rbtc)
