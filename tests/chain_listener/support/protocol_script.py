"""A run of real transactions on the dev chain that makes every event of SPEC section 4, each
step with the exact events it must produce (values from the rules, not from decoding)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from devstack.protocol import Protocol
from eth_account import Account
from reservesync.contracts import SystemContract
from web3.types import TxReceipt

from tests.chain_listener.support.chains import account_that_sends

AGG = SystemContract.ORACLE_AGGREGATOR
SYNTH = SystemContract.RBTC_SYNTH
WRAP = SystemContract.VAULT_WRBTC
VAULT = SystemContract.FEE_VAULT
POOL = SystemContract.YIELD_SCALES_POOL
ZERO = "0x" + "0" * 40
FIXED_WEI = 10**15

Event = tuple[SystemContract, str, dict[str, str | bool]]


def fee(delta_sats: int) -> int:
    """FeePolicy as deployed (pctBps 100, fixedWei 1e15, weiPerSat 1e12)."""
    return (delta_sats * 10**12 * 100 // 10_000 if delta_sats > 0 else 0) + FIXED_WEI


def event(contract: SystemContract, name: str, args: dict[str, Any]) -> Event:
    """As `chain.event/v1` carries it: addresses lowercase, integers as decimal strings."""
    return contract, name, {key: _as_carried(value) for key, value in args.items()}


def _as_carried(value: Any) -> str:
    if isinstance(value, str):
        return value.lower() if value.startswith("0x") else value
    return str(int(value))


@dataclass
class Step:
    receipt: TxReceipt
    events: list[Event]


@dataclass
class ProtocolScript:
    protocol: Protocol
    steps: list[Step] = field(default_factory=list)

    def address(self, contract: SystemContract) -> str:
        return str(self.protocol.contract(contract).address)

    def expect(self, receipt: TxReceipt, *events: Event) -> None:
        self.steps.append(Step(receipt, list(events)))

    def timestamp(self, receipt: TxReceipt) -> int:
        return int(self.protocol.w3.eth.get_block(receipt["blockNumber"])["timestamp"])

    def send(self, contract: SystemContract, function: str, *args: Any, sender: str) -> TxReceipt:
        return self.protocol.transact(contract, function, *args, sender=sender)

    def synced(self, receipt: TxReceipt, user: str, new: int, delta: int, paid: int) -> Event:
        return event(
            AGG,
            "Synced",
            {
                "user": user,
                "newBalanceSats": new,
                "deltaSats": delta,
                "feeWei": paid,
                "height": 0,
                "timestamp": self.timestamp(receipt),
            },
        )

    def spent(self, user: str, amount: int) -> Event:
        return event(VAULT, "Spent", {"user": user, "amount": amount, "by": self.address(AGG)})

    def run(self) -> list[Step]:
        self.wrap_redeem_slash_withdraw()
        self.needs_topup_then_emergency_burn()
        self.yield_pool()
        return self.steps

    def wrap_redeem_slash_withdraw(self) -> None:
        p, wrapper = self.protocol, self.address(WRAP)
        user, friend = account_that_sends(p.w3), str(Account.create().address)
        r = p.deposit_fees(user, 10**17)
        self.expect(r, event(VAULT, "Deposited", {"user": user, "amount": 10**17}))
        r = p.sync(user, 100_000)
        self.expect(
            r,
            event(SYNTH, "Transfer", {"from": ZERO, "to": user, "amount": 100_000}),
            self.spent(user, fee(100_000)),
            self.synced(r, user, 100_000, 100_000, fee(100_000)),
        )
        r = self.send(SYNTH, "approve", wrapper, 30_000, sender=user)
        approval = {"owner": user, "spender": wrapper, "amount": 30_000}
        self.expect(r, event(SYNTH, "Approval", approval))
        r = self.send(WRAP, "wrap", 30_000, sender=user)
        self.expect(
            r,
            event(SYNTH, "Transfer", {"from": user, "to": wrapper, "amount": 30_000}),
            event(WRAP, "Transfer", {"from": ZERO, "to": user, "amount": 30_000}),
            event(WRAP, "Wrapped", {"user": user, "amount": 30_000}),
        )
        r = self.send(WRAP, "redeem", 10_000, sender=user)
        self.expect(
            r,
            event(WRAP, "Transfer", {"from": user, "to": ZERO, "amount": 10_000}),
            event(WRAP, "Redeemed", {"user": user, "amount": 10_000}),
            event(SYNTH, "Transfer", {"from": wrapper, "to": user, "amount": 10_000}),
        )
        r = self.send(WRAP, "approve", friend, 5, sender=user)
        self.expect(r, event(WRAP, "Approval", {"owner": user, "spender": friend, "amount": 5}))
        r = self.send(WRAP, "transfer", friend, 5_000, sender=user)
        self.expect(r, event(WRAP, "Transfer", {"from": user, "to": friend, "amount": 5_000}))
        # 80000 rBTC unwrapped and 15000 wrapped: burning 90000 slashes 10000 wrapped.
        r = p.sync(user, 10_000)
        self.expect(
            r,
            event(SYNTH, "Transfer", {"from": user, "to": ZERO, "amount": 80_000}),
            event(WRAP, "Transfer", {"from": user, "to": ZERO, "amount": 10_000}),
            event(SYNTH, "Transfer", {"from": wrapper, "to": ZERO, "amount": 10_000}),
            event(WRAP, "Slashed", {"user": user, "amount": 10_000}),
            self.spent(user, FIXED_WEI),
            self.synced(r, user, 10_000, -90_000, FIXED_WEI),
        )
        r = self.send(VAULT, "withdraw", FIXED_WEI, sender=user)
        self.expect(r, event(VAULT, "Withdrawn", {"user": user, "amount": FIXED_WEI}))

    def needs_topup_then_emergency_burn(self) -> None:
        p, user = self.protocol, self.protocol.new_user()
        r = p.deposit_fees(user, 25 * 10**14)
        self.expect(r, event(VAULT, "Deposited", {"user": user, "amount": 25 * 10**14}))
        r = p.sync(user, 100_000)  # leaves 0.5e15 in the vault, below the fixed fee
        self.expect(
            r,
            event(SYNTH, "Transfer", {"from": ZERO, "to": user, "amount": 100_000}),
            self.spent(user, fee(100_000)),
            self.synced(r, user, 100_000, 100_000, fee(100_000)),
            event(AGG, "NeedsTopUp", {"user": user}),
        )
        r = p.sync(user, 50_000)
        burn = {"user": user, "burnedAmount": 100_000, "reason": "Insufficient fees"}
        self.expect(
            r,
            event(SYNTH, "Transfer", {"from": user, "to": ZERO, "amount": 100_000}),
            event(AGG, "EmergencyBurn", burn),
            self.synced(r, user, 0, -100_000, 0),
        )

    def yield_pool(self) -> None:
        p, synth, pool = self.protocol, self.protocol.contract(SYNTH), self.protocol.contract(POOL)
        holder, provider = account_that_sends(p.w3), account_that_sends(p.w3)
        p.deposit_fees(holder, 10**17)
        p.sync(holder, 50_000)
        r = self.send(POOL, "join", 0, 40_000, sender=holder)
        joined = {"user": holder, "participantType": 0, "amount": 40_000}
        self.expect(r, event(POOL, "ParticipantJoined", joined))
        r = self.send(POOL, "join", 1, 10**6, sender=provider)
        joined = {"user": provider, "participantType": 1, "amount": 10**6}
        self.expect(r, event(POOL, "ParticipantJoined", joined))
        r = self.send(POOL, "updateScales", 5_000, 10_000, sender=p.owner)
        scales = {"usdtScale": 5_000, "rbtcScale": 10_000, "timestamp": self.timestamp(r)}
        self.expect(r, event(POOL, "ScalesBalanceUpdated", scales))
        r = self.send(POOL, "calculateYield", sender=provider)
        at = r["blockNumber"]
        calculated = {
            "totalUSDTVirtual": pool.functions.totalUSDTVirtual().call(block_identifier=at),
            "totalRBTCSupply": synth.functions.totalSupply().call(block_identifier=at),
            "currentYieldRate": 5_000,
        }
        self.expect(r, event(POOL, "YieldCalculated", calculated))
        r = self.send(POOL, "claimYield", sender=holder)
        self.expect(r, event(POOL, "YieldClaimed", {"user": holder, "amount": 20_000}))
        r = self.send(POOL, "disputeBalance", 123, 456, sender=holder)
        disputed = {"user": holder, "reportedBalance": 123, "oracleBalance": 456}
        self.expect(r, event(POOL, "BalanceDisputed", disputed))
        r = self.send(POOL, "triggerEmergencyBurn", provider, 7, "test burn", sender=p.owner)
        burn = {"user": provider, "burnedAmount": 7, "reason": "test burn"}
        self.expect(r, event(POOL, "EmergencyBurnTriggered", burn))
        r = self.send(POOL, "leave", sender=holder)
        left = {"user": holder, "participantType": 0, "amount": 40_000}
        self.expect(r, event(POOL, "ParticipantLeft", left))
