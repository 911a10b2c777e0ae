"""SPEC section 4's rules of OracleAggregator, checked against the contract on the shared dev chain,
with exact values taken from the decoded events of each receipt."""

from __future__ import annotations

from devstack.protocol import Protocol
from eth_abi.abi import encode

from tests.contracts.support import (
    AGG,
    DEPOSIT_WEI,
    FEE_VAULT_SENDER,
    FIXED_WEI,
    PCT_BPS,
    PROOF_HEIGHT,
    PROOF_TIMESTAMP,
    SYNTH,
    VAULT,
    WEI_PER_SAT,
    ZERO_ADDRESS,
    assert_reverts,
    block_timestamp,
    change,
    eth_change,
    events,
    expected_fee,
    funded_user,
    gas_cost,
    rbtc_transfer,
    spent,
    synced,
    unlocked,
)


class TestOracleAggregator:
    def test_mint_charges_fee_and_takes_height_from_proof(self, protocol: Protocol) -> None:
        user = funded_user(protocol)
        aggregator, vault = protocol.contract(AGG), protocol.contract(VAULT)
        synth = protocol.contract(SYNTH)
        proof = encode(["uint32", "uint64"], [PROOF_HEIGHT, PROOF_TIMESTAMP])
        assert len(proof) == 64

        receipt = protocol.transact(AGG, "sync", user, 100_000, proof, sender=protocol.committee)

        fee = 2 * 10**15
        assert events(protocol, receipt) == [
            rbtc_transfer(ZERO_ADDRESS, user, 100_000),
            spent(protocol, user, fee),
            synced(user, 100_000, 100_000, fee, height=PROOF_HEIGHT, timestamp=PROOF_TIMESTAMP),
        ]
        assert vault.functions.balanceOf(user).call() == DEPOSIT_WEI - fee
        assert synth.functions.balanceOf(user).call() == 100_000
        assert aggregator.functions.lastSyncedSats(user).call() == 100_000
        assert change(protocol, receipt, synth.functions.totalSupply()) == 100_000
        assert change(protocol, receipt, vault.functions.balanceOf(user)) == -fee
        # The fee goes to the committee, which also paid the gas of this very transaction.
        assert eth_change(protocol, receipt, protocol.committee) == fee - gas_cost(receipt)

    def test_proof_of_another_length_is_ignored(self, protocol: Protocol) -> None:
        user = funded_user(protocol)
        proof = encode(["uint32"], [PROOF_HEIGHT])

        receipt = protocol.transact(AGG, "sync", user, 5_000, proof, sender=protocol.committee)

        fee = expected_fee(5_000)
        assert events(protocol, receipt)[-1] == synced(
            user, 5_000, 5_000, fee, timestamp=block_timestamp(protocol, receipt)
        )

    def test_zero_delta_is_a_no_op(self, protocol: Protocol) -> None:
        user = funded_user(protocol)
        protocol.sync(user, 30_000)
        vault = protocol.contract(VAULT).functions
        deposit_before = vault.balanceOf(user).call()

        receipt = protocol.sync(user, 30_000)

        assert receipt["logs"] == []
        assert vault.balanceOf(user).call() == deposit_before
        assert protocol.contract(SYNTH).functions.balanceOf(user).call() == 30_000

    def test_negative_delta_burns(self, protocol: Protocol) -> None:
        user = funded_user(protocol)
        protocol.sync(user, 100_000)
        vault, synth = protocol.contract(VAULT), protocol.contract(SYNTH)
        deposit_before = vault.functions.balanceOf(user).call()

        receipt = protocol.sync(user, 60_000)

        assert events(protocol, receipt) == [
            rbtc_transfer(user, ZERO_ADDRESS, 40_000),
            spent(protocol, user, FIXED_WEI),
            synced(user, 60_000, -40_000, FIXED_WEI, timestamp=block_timestamp(protocol, receipt)),
        ]
        assert vault.functions.balanceOf(user).call() == deposit_before - FIXED_WEI
        assert synth.functions.balanceOf(user).call() == 60_000
        assert protocol.contract(AGG).functions.lastSyncedSats(user).call() == 60_000
        assert change(protocol, receipt, synth.functions.totalSupply()) == -40_000

    def test_fee_cap(self, protocol: Protocol) -> None:
        aggregator = protocol.contract(AGG).functions
        max_fee: int = aggregator.maxFeePerSyncWei().call()
        assert max_fee == 10**17
        # The largest mint whose fee is still within the cap, and one sat more.
        at_cap = (max_fee - FIXED_WEI) * 10_000 // (WEI_PER_SAT * PCT_BPS)
        assert expected_fee(at_cap) == max_fee
        user = funded_user(protocol, 2 * max_fee)

        assert_reverts(
            protocol, aggregator.sync(user, at_cap + 1, b""), protocol.committee, "fee-cap"
        )
        receipt = protocol.sync(user, at_cap)

        assert events(protocol, receipt)[-1][2]["feeWei"] == max_fee

    def test_positive_delta_needs_topup(self, protocol: Protocol) -> None:
        aggregator = protocol.contract(AGG).functions
        assert_reverts(
            protocol,
            aggregator.sync(protocol.new_user(), 1_000, b""),
            protocol.committee,
            "needs-topup",
        )
        # One wei short of the fee is still short.
        user = funded_user(protocol, expected_fee(1_000) - 1)
        assert_reverts(
            protocol, aggregator.sync(user, 1_000, b""), protocol.committee, "needs-topup"
        )
        assert aggregator.lastSyncedSats(user).call() == 0

    def test_needs_topup_follows_sync_that_leaves_less_than_fixed_fee(
        self, protocol: Protocol
    ) -> None:
        user = funded_user(protocol, 25 * 10**14)

        receipt = protocol.sync(user, 100_000)

        fee = 2 * 10**15
        assert events(protocol, receipt) == [
            rbtc_transfer(ZERO_ADDRESS, user, 100_000),
            spent(protocol, user, fee),
            synced(user, 100_000, 100_000, fee, timestamp=block_timestamp(protocol, receipt)),
            (AGG, "NeedsTopUp", {"user": user}),
        ]
        assert protocol.contract(VAULT).functions.balanceOf(user).call() == 5 * 10**14

    def test_no_needs_topup_when_fixed_fee_remains(self, protocol: Protocol) -> None:
        user = funded_user(protocol, expected_fee(100_000) + FIXED_WEI)

        receipt = protocol.sync(user, 100_000)

        assert [name for _, name, _ in events(protocol, receipt)] == [
            "Transfer",
            "Spent",
            "Synced",
        ]

    def test_emergency_burn_on_insufficient_fees(self, protocol: Protocol) -> None:
        user = funded_user(protocol, 25 * 10**14)
        protocol.sync(user, 100_000)  # leaves 0.5e15, below the 1e15 a burn costs
        vault, synth = protocol.contract(VAULT), protocol.contract(SYNTH)

        receipt = protocol.sync(user, 50_000)

        decoded = events(protocol, receipt)
        assert decoded == [
            rbtc_transfer(user, ZERO_ADDRESS, 100_000),
            (
                AGG,
                "EmergencyBurn",
                {"user": user, "burnedAmount": 100_000, "reason": "Insufficient fees"},
            ),
            synced(user, 0, -100_000, 0, timestamp=block_timestamp(protocol, receipt)),
        ]
        indexes = {
            name: log["logIndex"]
            for (_, name, _), log in zip(
                decoded, sorted(receipt["logs"], key=lambda log: log["logIndex"]), strict=True
            )
        }
        assert indexes["EmergencyBurn"] < indexes["Synced"]
        assert synth.functions.balanceOf(user).call() == 0
        assert protocol.contract(AGG).functions.lastSyncedSats(user).call() == 0
        # Nothing is charged: the deposit that could not pay stays where it was.
        assert vault.functions.balanceOf(user).call() == 5 * 10**14
        assert change(protocol, receipt, synth.functions.totalSupply()) == -100_000

    def test_committee_emergency_burn(self, protocol: Protocol) -> None:
        user = funded_user(protocol)
        protocol.sync(user, 70_000)
        aggregator = protocol.contract(AGG).functions
        deposit_before = protocol.contract(VAULT).functions.balanceOf(user).call()

        receipt = protocol.transact(AGG, "executeEmergencyBurn", user, sender=protocol.committee)

        assert events(protocol, receipt) == [
            rbtc_transfer(user, ZERO_ADDRESS, 70_000),
            (
                AGG,
                "EmergencyBurn",
                {"user": user, "burnedAmount": 70_000, "reason": "Committee emergency burn"},
            ),
            synced(user, 0, -70_000, 0, timestamp=block_timestamp(protocol, receipt)),
        ]
        assert protocol.contract(SYNTH).functions.balanceOf(user).call() == 0
        assert aggregator.lastSyncedSats(user).call() == 0
        assert protocol.contract(VAULT).functions.balanceOf(user).call() == deposit_before
        assert_reverts(
            protocol, aggregator.executeEmergencyBurn(user), protocol.committee, "nothing-to-burn"
        )

    def test_only_the_committee(self, protocol: Protocol) -> None:
        user = funded_user(protocol)
        protocol.sync(user, 10_000)
        aggregator = protocol.contract(AGG).functions
        for outsider in (protocol.owner, unlocked(protocol, FEE_VAULT_SENDER), user):
            for call in (
                aggregator.sync(user, 20_000, b""),
                aggregator.executeEmergencyBurn(user),
                aggregator.setMaxFeePerSyncWei(10**18),
                aggregator.setCommittee(outsider),
            ):
                assert_reverts(protocol, call, outsider, "only-committee")
        assert aggregator.lastSyncedSats(user).call() == 10_000
        assert aggregator.committee().call() == protocol.committee

    def test_balance_above_int64_is_refused(self, protocol: Protocol) -> None:
        assert_reverts(
            protocol,
            protocol.contract(AGG).functions.sync(funded_user(protocol), 2**63, b""),
            protocol.committee,
            "balance-range",
        )
