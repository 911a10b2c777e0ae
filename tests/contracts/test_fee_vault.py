"""SPEC section 4's rules of FeeVault, checked against the contract on the shared dev chain,
with exact values taken from the decoded events of each receipt."""

from __future__ import annotations

from devstack.protocol import Protocol

from tests.contracts.support import (
    AGG,
    FEE_VAULT_SENDER,
    VAULT,
    ZERO_ADDRESS,
    assert_reverts,
    change,
    eth_change,
    events,
    gas_cost,
    unlocked,
)


class TestFeeVault:
    def test_deposit_deposit_for_and_withdraw(self, protocol: Protocol) -> None:
        sender = unlocked(protocol, FEE_VAULT_SENDER)
        vault = protocol.contract(VAULT)
        balance = vault.functions.balanceOf

        receipt = protocol.transact(VAULT, "deposit", sender=sender, value=3 * 10**15)
        assert events(protocol, receipt) == [
            (VAULT, "Deposited", {"user": sender, "amount": 3 * 10**15})
        ]
        assert change(protocol, receipt, balance(sender)) == 3 * 10**15
        assert eth_change(protocol, receipt, vault.address) == 3 * 10**15

        beneficiary = protocol.new_user()
        receipt = protocol.transact(
            VAULT, "depositFor", beneficiary, sender=sender, value=25 * 10**14
        )
        assert events(protocol, receipt) == [
            (VAULT, "Deposited", {"user": beneficiary, "amount": 25 * 10**14})
        ]
        assert balance(beneficiary).call() == 25 * 10**14
        assert change(protocol, receipt, balance(sender)) == 0

        receipt = protocol.transact(VAULT, "withdraw", 10**15, sender=sender)
        assert events(protocol, receipt) == [
            (VAULT, "Withdrawn", {"user": sender, "amount": 10**15})
        ]
        assert change(protocol, receipt, balance(sender)) == -(10**15)
        assert eth_change(protocol, receipt, vault.address) == -(10**15)
        assert eth_change(protocol, receipt, sender) == 10**15 - gas_cost(receipt)

        assert_reverts(
            protocol, vault.functions.withdraw(balance(sender).call() + 1), sender, "balance"
        )
        assert_reverts(protocol, vault.functions.deposit(), sender, "zero-amount")
        assert_reverts(
            protocol, vault.functions.depositFor(ZERO_ADDRESS), sender, "zero-address", value=1
        )
        assert_reverts(
            protocol, vault.functions.spendFrom(beneficiary, 1, sender), sender, "only-oracle"
        )
        assert vault.functions.oracle().call() == protocol.contract(AGG).address
