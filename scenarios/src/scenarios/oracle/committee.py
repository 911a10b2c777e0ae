"""The oracle's hand on the chain: it reads what is synced and calls
`OracleAggregator.sync(user, sats, proof)` as the committee; the contract decides whether that
mints, burns, or, with the fee vault empty, emergency-burns (SPEC section 4)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import StrEnum

from devstack.protocol import Protocol
from eth_abi.abi import encode
from reservesync.contracts import SystemContract
from web3 import Web3
from web3.logs import DISCARD


class SyncKind(StrEnum):
    MINTED = "minted"
    BURNED = "burned"
    EMERGENCY_BURNED = "emergency_burned"
    NEEDS_TOPUP = "needs_topup"


@dataclass(frozen=True)
class SyncOutcome:
    kind: SyncKind
    previous_sats: int
    new_sats: int
    """What the chain holds afterwards (0 after an emergency burn)."""
    tx_hash: str | None = None
    block_number: int | None = None
    burned_sats: int = 0


class Committee:
    def __init__(self, protocol: Protocol) -> None:
        self.protocol = protocol
        self._aggregator = protocol.contract(SystemContract.ORACLE_AGGREGATOR)
        self._vault = protocol.contract(SystemContract.FEE_VAULT)

    def synced_sats(self, user: str) -> int:
        return int(self._aggregator.functions.lastSyncedSats(self._checksum(user)).call())

    def sync(self, user: str, sats: int, btc_height: int) -> SyncOutcome:
        """Sync `user` to `sats` (which must differ from what is synced)."""
        account = self._checksum(user)
        previous = self.synced_sats(user)
        delta = sats - previous
        fee = self.protocol.quote_fees(account, delta)
        if delta > 0 and int(self._vault.functions.balanceOf(account).call()) < fee:
            # The contract would revert ("needs-topup"): nothing to send, the user must pay.
            return SyncOutcome(SyncKind.NEEDS_TOPUP, previous, previous)
        proof = encode(["uint32", "uint64"], [btc_height, int(time.time())])
        receipt = self.protocol.transact(
            SystemContract.ORACLE_AGGREGATOR,
            "sync",
            account,
            sats,
            proof,
            sender=self.protocol.committee,
        )
        tx_hash, block = "0x" + bytes(receipt["transactionHash"]).hex(), receipt["blockNumber"]
        burns = self._aggregator.events.EmergencyBurn().process_receipt(receipt, errors=DISCARD)
        if burns:
            burned = int(burns[0]["args"]["burnedAmount"])
            return SyncOutcome(SyncKind.EMERGENCY_BURNED, previous, 0, tx_hash, block, burned)
        kind = SyncKind.MINTED if delta > 0 else SyncKind.BURNED
        return SyncOutcome(kind, previous, sats, tx_hash, block)

    @staticmethod
    def _checksum(user: str) -> str:
        return str(Web3.to_checksum_address(user))
