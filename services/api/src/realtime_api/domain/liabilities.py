"""The liabilities of the proof of reserves, from the token itself, and what no synced balance
backs.

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

    @property
    def unbacked_supply(self) -> int:
        return max(0, self.rbtc_supply - self.synced_sats)

    @property
    def vault_gap(self) -> int:
        """wrBTC outstanding beyond the rBTC the vault holds (0 when the vault is whole)."""
        return max(0, self.wrbtc_outstanding - self.vault_rbtc)
