"""The seed report's world, played through the oracle against the real chains: tokens on the
EVM chain, and real coins on the regtest Bitcoin chain the oracle reads (`wallet`).

3 users with 5 verified Bitcoin addresses, 3 of them monitored (one per user; the oracle's
balance of a user is the sum of the monitored ones). The committee performs 8 mints and 2
burns, and 3 emergency burns (251,822 sats) when fee vaults run dry; the third user is
registered with the oracle but has no balance yet, so the chain has never seen them. At the
end 238,967 sats are synced: 150,000 for the first user and 88,967 for the second.

Where the seed's figures cannot all hold: it counts 11 transactions as "8 MINTs, 2 BURNs", but
a pipeline that indexes only `Synced` (the seed's) sees exactly the mints and burns: each
`Synced` is a mint, a burn, or the balance half of an emergency burn (not a transaction, its
money movement is the `EmergencyBurn`). We keep 8 mints and 2 burns, so the legacy database
holds 10 transactions. The full pipeline also records the deposits, fee payments and the 3
emergency burns.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from devstack.protocol import Protocol
from reservesync.messages import OracleAction
from web3 import Web3

from scenarios.oracle.running import RunningOracle

SPARE_FEES_WEI = 10**16
SPARE_SATS = (40_000, 15_000)
"""What the first two users hold on their verified, unmonitored addresses."""


@dataclass(frozen=True)
class SeedFigures:
    users: int = 3
    bitcoin_addresses_verified: int = 5
    bitcoin_addresses_monitored: int = 3
    mints: int = 8
    burns: int = 2
    emergency_burns: int = 3
    emergency_burned_sats: int = 251_822
    synced_sats: int = 238_967
    legacy_transactions: int = 10


SEED = SeedFigures()


@dataclass
class SeedWorld:
    users: list[str] = field(default_factory=list)
    monitored: dict[str, str] = field(default_factory=dict)
    """user → their monitored address."""
    spare: dict[str, str] = field(default_factory=dict)
    """user → their verified address the oracle does not monitor (the first two users)."""

    def figures(self, oracle: RunningOracle) -> SeedFigures:
        """What the oracle actually did, in the seed's terms (checked against SEED)."""
        actions = Counter(op.action for op in oracle.book.journal)
        states = oracle.book.states()
        burns = [b for s in states for b in s.emergency_burns]
        addresses = [a for s in states for a in s.bitcoin_addresses]
        return SeedFigures(
            users=len(states),
            bitcoin_addresses_verified=sum(a.verified_at is not None for a in addresses),
            bitcoin_addresses_monitored=sum(a.monitoring for a in addresses),
            mints=actions[OracleAction.MINT],
            burns=actions[OracleAction.BURN],
            emergency_burns=len(burns),
            emergency_burned_sats=sum(b.burned_sats for b in burns),
            synced_sats=sum(s.last_synced_sats for s in states),
            legacy_transactions=actions[OracleAction.MINT] + actions[OracleAction.BURN],
        )


async def play(
    oracle: RunningOracle,
    protocol: Protocol,
    report: Callable[[str], None] = print,
    after_step: Callable[[], Awaitable[None]] | None = None,
) -> SeedWorld:
    """Runs the scenario step by step: move Bitcoin (confirmed), pay fees, one oracle cycle;
    `after_step` runs after each (the fault drills inject their faults there)."""
    world = await _register_users(oracle)
    wallet = oracle.wallet
    first, second, _third = world.users

    async def step(what: str, balances: dict[str, int]) -> None:
        moves = {world.monitored[user]: sats for user, sats in balances.items()}
        await asyncio.to_thread(wallet.set_balances, moves)
        done = await oracle.simulator.cycle()
        summary = ", ".join(f"{op.action.value} {op.amount_sats or ''}".strip() for op in done)
        report(f"  {what}: {summary or 'nothing to do'}")
        if after_step is not None:
            await after_step()

    async def pay(user: str, wei: int) -> None:
        await asyncio.to_thread(protocol.deposit_fees, Web3.to_checksum_address(user), wei)

    async def exact_fees(user: str, moves: list[tuple[int, int]]) -> int:
        account = Web3.to_checksum_address(user)
        fees = [
            await asyncio.to_thread(protocol.quote_fees, account, new - old) for old, new in moves
        ]
        return sum(fees)

    # First user: two mints paid exactly, so the vault is empty when their Bitcoin drops.
    await pay(first, await exact_fees(first, [(0, 80_000), (80_000, 130_000)]))
    await step("user 1 receives 80,000 sats", {first: 80_000})
    await step("user 1 receives 50,000 more", {first: 130_000})
    # Second user likewise.
    await pay(second, await exact_fees(second, [(0, 50_000), (50_000, 71_822)]))
    await step("user 2 receives 50,000 sats", {second: 50_000})
    await step("user 2 receives 21,822 more", {second: 71_822})
    await step(
        "both spend Bitcoin with empty fee vaults", {first: 120_000, second: 60_000}
    )  # emergency burns of 130,000 and 71,822
    await step("the oracle asks both to top up", {})
    await pay(first, SPARE_FEES_WEI)
    await step("user 1 tops up", {})
    await step("user 1 receives 40,000 more", {first: 160_000})
    await step("user 1 spends 10,000", {first: 150_000})
    await pay(second, await exact_fees(second, [(0, 60_000), (60_000, 50_000)]))
    await step("user 2 tops up just enough", {})
    await step("user 2 spends 10,000", {second: 50_000})
    await step("user 2 spends 10,000 with an empty vault", {second: 40_000})  # burns 50,000
    await pay(second, SPARE_FEES_WEI)
    await step("user 2 tops up and receives 48,967", {second: 88_967})
    return world


async def _register_users(oracle: RunningOracle) -> SeedWorld:
    """Three users, each with a monitored Bitcoin address; the first two also with a verified,
    unmonitored spare one that holds coins (the third has none: the seed's missing user)."""
    world = SeedWorld()
    wallet = oracle.wallet
    spares: dict[str, int] = {}
    for spare in (SPARE_SATS[0], SPARE_SATS[1], None):
        user = Protocol.new_user().lower()
        monitored = wallet.new_address()
        addresses = [(monitored, True)]
        if spare is not None:
            # Verified but not monitored: its coins never count towards the balance.
            world.spare[user] = wallet.new_address()
            addresses.append((world.spare[user], False))
            spares[world.spare[user]] = spare
        await oracle.simulator.register(user, addresses)
        world.users.append(user)
        world.monitored[user] = monitored
    await asyncio.to_thread(wallet.set_balances, spares)
    return world
