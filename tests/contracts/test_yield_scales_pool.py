"""SPEC section 4's rules of YieldScalesPool, checked against the contract on the shared dev chain,
with exact values taken from the decoded events of each receipt."""

from __future__ import annotations

from devstack.protocol import Protocol

from tests.contracts.support import (
    POOL,
    POOL_HOLDER,
    POOL_PROVIDER,
    SYNTH,
    assert_reverts,
    block_timestamp,
    change,
    events,
    grow,
    unlocked,
)


class TestYieldScalesPool:
    def test_all_events(self, protocol: Protocol) -> None:
        pool = protocol.contract(POOL)
        calls = pool.functions
        synth = protocol.contract(SYNTH).functions
        holder = unlocked(protocol, POOL_HOLDER)
        provider = unlocked(protocol, POOL_PROVIDER)
        # An earlier run that failed midway may have left these accounts in the pool.
        for account in (holder, provider):
            if calls.participants(account).call()[0]:
                protocol.transact(POOL, "leave", sender=account)
        grow(protocol, holder, 50_000)
        held = synth.balanceOf(holder).call()

        assert_reverts(protocol, calls.join(2, 1), holder, "bad-type")
        assert_reverts(protocol, calls.join(0, 0), holder, "zero-amount")
        assert_reverts(protocol, calls.join(0, held + 1), holder, "insufficient-rbtc")

        receipt = protocol.transact(POOL, "join", 0, 40_000, sender=holder)
        assert events(protocol, receipt) == [
            (POOL, "ParticipantJoined", {"user": holder, "participantType": 0, "amount": 40_000})
        ]
        assert change(protocol, receipt, calls.totalRBTCCommitted()) == 40_000
        assert_reverts(protocol, calls.join(1, 1), holder, "already-joined")

        receipt = protocol.transact(POOL, "join", 1, 10**6, sender=provider)
        assert events(protocol, receipt) == [
            (POOL, "ParticipantJoined", {"user": provider, "participantType": 1, "amount": 10**6})
        ]
        assert change(protocol, receipt, calls.totalUSDTVirtual()) == 10**6
        # Joining after the last calculation earns nothing until the next one.
        assert_reverts(protocol, calls.claimYield(), holder, "nothing-to-claim")

        assert_reverts(protocol, calls.updateScales(1, 1), holder, "only-owner")
        receipt = protocol.transact(POOL, "updateScales", 5_000, 10_000, sender=protocol.owner)
        assert events(protocol, receipt) == [
            (
                POOL,
                "ScalesBalanceUpdated",
                {
                    "usdtScale": 5_000,
                    "rbtcScale": 10_000,
                    "timestamp": block_timestamp(protocol, receipt),
                },
            )
        ]

        receipt = protocol.transact(POOL, "calculateYield", sender=provider)
        block = receipt["blockNumber"]
        assert events(protocol, receipt) == [
            (
                POOL,
                "YieldCalculated",
                {
                    "totalUSDTVirtual": calls.totalUSDTVirtual().call(block_identifier=block),
                    "totalRBTCSupply": synth.totalSupply().call(block_identifier=block),
                    "currentYieldRate": 5_000,
                },
            )
        ]
        assert change(protocol, receipt, calls.epoch()) == 1

        receipt = protocol.transact(POOL, "claimYield", sender=holder)
        assert events(protocol, receipt) == [
            (POOL, "YieldClaimed", {"user": holder, "amount": 40_000 * 5_000 // 10_000})
        ]
        receipt = protocol.transact(POOL, "claimYield", sender=provider)
        assert events(protocol, receipt) == [
            (POOL, "YieldClaimed", {"user": provider, "amount": 10**6 * 5_000 // 10_000})
        ]
        assert_reverts(protocol, calls.claimYield(), holder, "nothing-to-claim")

        receipt = protocol.transact(POOL, "disputeBalance", 123, 456, sender=holder)
        assert events(protocol, receipt) == [
            (
                POOL,
                "BalanceDisputed",
                {"user": holder, "reportedBalance": 123, "oracleBalance": 456},
            )
        ]
        assert_reverts(protocol, calls.disputeBalance(1, 2), protocol.new_user(), "not-participant")

        assert_reverts(protocol, calls.triggerEmergencyBurn(provider, 7, "x"), holder, "only-owner")
        receipt = protocol.transact(
            POOL, "triggerEmergencyBurn", provider, 7, "test burn", sender=protocol.owner
        )
        assert events(protocol, receipt) == [
            (
                POOL,
                "EmergencyBurnTriggered",
                {"user": provider, "burnedAmount": 7, "reason": "test burn"},
            )
        ]
        assert change(protocol, receipt, calls.totalUSDTVirtual()) == -(10**6)
        assert calls.participants(provider).call()[0] is False

        receipt = protocol.transact(POOL, "leave", sender=holder)
        assert events(protocol, receipt) == [
            (POOL, "ParticipantLeft", {"user": holder, "participantType": 0, "amount": 40_000})
        ]
        assert change(protocol, receipt, calls.totalRBTCCommitted()) == -40_000
        assert_reverts(protocol, calls.leave(), holder, "not-participant")
