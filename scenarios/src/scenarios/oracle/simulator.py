"""The oracle's loop: every cycle, each user's balance is the sum of their monitored
addresses' confirmed sats as the Bitcoin node shows them at the newest confirmed height; where
it differs from what is synced on chain the committee syncs it, and what happened becomes an
operation in the journal, reported to the oracle-logger unless the oracle runs "legacy" (as the
seed's did: operations performed, never logged)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime

from oracle_logger.client import OracleLoggerClient
from reservesync.messages import (
    KnownEmergencyBurn,
    OperationStatus,
    OracleAction,
    OracleOperation,
)

from scenarios.oracle.bitcoin import ConfirmedBalances
from scenarios.oracle.committee import Committee, SyncKind, SyncOutcome
from scenarios.oracle.knowledge import OracleBook, OracleUser

log = logging.getLogger(__name__)
INSUFFICIENT_FEES = "Insufficient fees"
_ACTIONS = {
    SyncKind.MINTED: OracleAction.MINT,
    SyncKind.BURNED: OracleAction.BURN,
    SyncKind.EMERGENCY_BURNED: OracleAction.EMERGENCY_BURN,
}


class OracleSimulator:
    def __init__(
        self,
        book: OracleBook,
        bitcoin: ConfirmedBalances,
        committee: Committee,
        reporter: OracleLoggerClient | None = None,
    ) -> None:
        self.book = book
        self.bitcoin = bitcoin
        self.committee = committee
        self.reporter = reporter

    @property
    def legacy(self) -> bool:
        return self.reporter is None

    async def register(self, user: str, addresses: list[tuple[str, bool]]) -> None:
        """A user joins with verified addresses (`(address, monitoring)` pairs)."""
        operations = [self.book.register(user)]
        for address, monitoring in addresses:
            operations.append(
                self.book.verify_address(
                    user, address, monitoring=monitoring, network=self.bitcoin.network
                )
            )
        await self._report(operations)

    async def cycle(self) -> list[OracleOperation]:
        """One interval of the oracle: the operations it performed."""
        height = await self.bitcoin.confirmed_height()
        users = list(self.book.users.values())
        # One scan of the node for every user's addresses, all at the same height.
        held = await self.bitcoin.balances({a for u in users for a in u.monitored}, height)
        performed: list[OracleOperation] = []
        for user in users:
            balance = sum(held[a] for a in user.monitored)
            synced = await asyncio.to_thread(self.committee.synced_sats, user.address)
            if balance == synced:
                continue
            outcome = await asyncio.to_thread(self.committee.sync, user.address, balance, height)
            operation = self._recorded(user, outcome)
            if operation is not None:
                performed.append(operation)
        await self._report(performed)
        return performed

    async def run(self, interval_s: float, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.cycle()
            except Exception:
                log.exception("oracle cycle failed; the next one tries again")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval_s)

    def _recorded(self, user: OracleUser, outcome: SyncOutcome) -> OracleOperation | None:
        if outcome.kind is SyncKind.NEEDS_TOPUP:
            if user.needs_topup:
                return None  # reported once per episode, not every interval
            user.needs_topup = True
            return self.book.record(
                OracleAction.NEEDS_TOPUP,
                user.address,
                discriminator=f"topup-{user.operations}",
                status=OperationStatus.SKIPPED,
                previous_sats=outcome.previous_sats,
                reason="fee vault below the sync fee",
            )
        user.needs_topup = False
        now = datetime.now(UTC)
        user.last_synced_sats, user.last_sync_at = outcome.new_sats, now
        emergency = outcome.kind is SyncKind.EMERGENCY_BURNED
        if emergency:
            user.burns.append(
                KnownEmergencyBurn(
                    burned_sats=outcome.burned_sats,
                    reason=INSUFFICIENT_FEES,
                    tx_hash=outcome.tx_hash,
                    block_number=outcome.block_number,
                    occurred_at=now,
                )
            )
        assert outcome.tx_hash is not None
        return self.book.record(
            _ACTIONS[outcome.kind],
            user.address,
            discriminator=outcome.tx_hash,
            amount_sats=outcome.burned_sats
            if emergency
            else abs(outcome.new_sats - outcome.previous_sats),
            previous_sats=outcome.previous_sats,
            tx_hash=outcome.tx_hash,
            block_number=outcome.block_number,
            reason=INSUFFICIENT_FEES if emergency else None,
        )

    async def _report(self, operations: list[OracleOperation]) -> None:
        if self.reporter is None or not operations:
            return
        for operation in operations:
            await self.reporter.log_operation(operation)
        await self.reporter.flush()
