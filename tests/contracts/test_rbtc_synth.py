"""SPEC section 4's rules of RBTCSynth, checked against the contract on the shared dev chain,
with exact values taken from the decoded events of each receipt."""

from __future__ import annotations

from devstack.protocol import Protocol

from tests.contracts.support import (
    AGG,
    SOULBOUND_OWNER,
    SOULBOUND_SPENDER,
    SYNTH,
    WRAP,
    assert_reverts,
    events,
    grow,
    unlocked,
)


class TestRBTCSynth:
    def test_metadata_and_minting_rights(self, protocol: Protocol) -> None:
        synth = protocol.contract(SYNTH).functions
        assert (synth.name().call(), synth.symbol().call(), synth.decimals().call()) == (
            "Reserve BTC",
            "rBTC",
            8,
        )
        assert synth.minter().call() == protocol.contract(AGG).address
        assert synth.wrapVault().call() == protocol.contract(WRAP).address
        user = protocol.new_user()
        assert_reverts(protocol, synth.mint(user, 1), protocol.owner, "only-minter")
        assert_reverts(protocol, synth.burn(user, 0), protocol.committee, "only-minter")
        assert_reverts(protocol, synth.burnFromVault(0), protocol.owner, "only-vault")

    def test_soulbound(self, protocol: Protocol) -> None:
        owner = unlocked(protocol, SOULBOUND_OWNER)
        spender = unlocked(protocol, SOULBOUND_SPENDER)
        grow(protocol, owner, 1_000)
        synth = protocol.contract(SYNTH).functions
        stranger = protocol.new_user()

        assert_reverts(protocol, synth.transfer(stranger, 1), owner, "soulbound")
        receipt = protocol.transact(SYNTH, "approve", spender, 5, sender=owner)
        assert events(protocol, receipt) == [
            (SYNTH, "Approval", {"owner": owner, "spender": spender, "amount": 5})
        ]
        assert synth.allowance(owner, spender).call() == 5
        # The allowance is enough, so only the soulbound rule stops it.
        assert_reverts(protocol, synth.transferFrom(owner, stranger, 1), spender, "soulbound")
        assert synth.balanceOf(stranger).call() == 0
