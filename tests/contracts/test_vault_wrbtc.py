"""SPEC section 4's rules of VaultWrBTC, checked against the contract on the shared dev chain,
with exact values taken from the decoded events of each receipt."""

from __future__ import annotations

from devstack.protocol import Protocol

from tests.contracts.support import (
    FIXED_WEI,
    SYNTH,
    WRAP,
    WRAPPER,
    ZERO_ADDRESS,
    assert_reverts,
    block_timestamp,
    events,
    grow,
    rbtc_transfer,
    spent,
    synced,
    unlocked,
)


class TestVaultWrBTC:
    def test_wrap_redeem_and_slash(self, protocol: Protocol) -> None:
        user = unlocked(protocol, WRAPPER)
        synth, wrap = protocol.contract(SYNTH).functions, protocol.contract(WRAP).functions
        vault_address = protocol.contract(WRAP).address
        # Wrapped supply above backing would be unbacked wrBTC; anyone may donate rBTC to the
        # vault, so the surplus is not zero on a shared chain, but no rule here may move it.
        surplus = synth.balanceOf(vault_address).call() - wrap.totalSupply().call()
        assert surplus >= 0
        synced_sats = grow(protocol, user, 50_000)
        held, wrapped = synth.balanceOf(user).call(), wrap.balanceOf(user).call()

        protocol.transact(SYNTH, "approve", vault_address, 30_000, sender=user)
        receipt = protocol.transact(WRAP, "wrap", 30_000, sender=user)
        assert events(protocol, receipt) == [
            rbtc_transfer(user, vault_address, 30_000),
            (WRAP, "Transfer", {"from": ZERO_ADDRESS, "to": user, "amount": 30_000}),
            (WRAP, "Wrapped", {"user": user, "amount": 30_000}),
        ]
        assert synth.allowance(user, vault_address).call() == 0

        receipt = protocol.transact(WRAP, "redeem", 10_000, sender=user)
        assert events(protocol, receipt) == [
            (WRAP, "Transfer", {"from": user, "to": ZERO_ADDRESS, "amount": 10_000}),
            (WRAP, "Redeemed", {"user": user, "amount": 10_000}),
            rbtc_transfer(vault_address, user, 10_000),
        ]
        assert synth.balanceOf(user).call() == held - 20_000
        assert wrap.balanceOf(user).call() == wrapped + 20_000

        # wrBTC is an ordinary ERC-20, so part of it can leave the user's reach.
        friend = protocol.new_user()
        receipt = protocol.transact(WRAP, "transfer", friend, 5_000, sender=user)
        assert events(protocol, receipt) == [
            (WRAP, "Transfer", {"from": user, "to": friend, "amount": 5_000})
        ]

        # Burn all unwrapped rBTC plus 10000 more, which must come out of the wrapped part.
        unwrapped = synth.balanceOf(user).call()
        target = synced_sats - unwrapped - 10_000
        receipt = protocol.sync(user, target)
        assert events(protocol, receipt) == [
            rbtc_transfer(user, ZERO_ADDRESS, unwrapped),
            (WRAP, "Transfer", {"from": user, "to": ZERO_ADDRESS, "amount": 10_000}),
            rbtc_transfer(vault_address, ZERO_ADDRESS, 10_000),
            (WRAP, "Slashed", {"user": user, "amount": 10_000}),
            spent(protocol, user, FIXED_WEI),
            synced(
                user,
                target,
                -(unwrapped + 10_000),
                FIXED_WEI,
                timestamp=block_timestamp(protocol, receipt),
            ),
        ]
        assert synth.balanceOf(user).call() == 0
        assert wrap.balanceOf(user).call() == wrapped + 5_000
        assert wrap.balanceOf(friend).call() == 5_000
        assert synth.balanceOf(vault_address).call() - wrap.totalSupply().call() == surplus

        assert_reverts(protocol, wrap.slash(user, 1), protocol.owner, "only-oracle")
        assert_reverts(protocol, wrap.wrap(0), user, "zero-amount")
        assert_reverts(protocol, wrap.redeem(wrapped + 5_001), user, "balance")
