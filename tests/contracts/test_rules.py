"""The protocol rules of SPEC section 4, checked against the six contracts deployed on the
shared dev chain, with exact values taken from the decoded events of each receipt.

Other tests drive the same node, so every test uses fresh users or reads "before" values of
the unlocked accounts it sends from, and asserts deltas rather than absolute state.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from devstack.protocol import Protocol
from eth_abi.abi import encode
from reservesync.contracts import SystemContract
from reservesync.contracts import events as contract_events
from web3 import Web3
from web3.contract.contract import ContractFunction
from web3.exceptions import ContractLogicError
from web3.types import TxParams, TxReceipt, Wei

ZERO_ADDRESS = "0x" + "0" * 40
PCT_BPS, FIXED_WEI, WEI_PER_SAT = 100, 10**15, 10**12
DEPOSIT_WEI = 10**16
PROOF_HEIGHT, PROOF_TIMESTAMP = 840_000, 1_700_000_000

AGG = SystemContract.ORACLE_AGGREGATOR
SYNTH = SystemContract.RBTC_SYNTH
WRAP = SystemContract.VAULT_WRBTC
VAULT = SystemContract.FEE_VAULT
POLICY = SystemContract.FEE_POLICY
POOL = SystemContract.YIELD_SCALES_POOL

# Each test that needs a sender gets its own unlocked account, so tests in one run never share
# one; 0 deploys (and owns) and 1 is the committee.
FEE_VAULT_SENDER, SOULBOUND_OWNER, SOULBOUND_SPENDER, WRAPPER = 2, 3, 4, 5
POOL_HOLDER, POOL_PROVIDER = 6, 7

Event = tuple[SystemContract, str, dict[str, Any]]


def expected_fee(delta: int) -> int:
    return (delta * WEI_PER_SAT * PCT_BPS // 10_000 if delta > 0 else 0) + FIXED_WEI


def events(protocol: Protocol, receipt: TxReceipt) -> list[Event]:
    """Every log of the receipt, in log-index order, decoded by the contract that emitted it."""
    by_address = {protocol.contract(name).address.lower(): name for name in SystemContract}
    decoded: list[Event] = []
    for log in sorted(receipt["logs"], key=lambda log: log["logIndex"]):
        name = by_address[log["address"].lower()]
        event = next(
            item["name"]
            for item in contract_events(name)
            if Web3.keccak(text=f"{item['name']}({','.join(i['type'] for i in item['inputs'])})")
            == log["topics"][0]
        )
        args = getattr(protocol.contract(name).events, event)().process_log(log)["args"]
        decoded.append((name, event, dict(args)))
    return decoded


def unlocked(protocol: Protocol, index: int) -> str:
    account: str = protocol.w3.eth.accounts[index]
    return account


def block_timestamp(protocol: Protocol, receipt: TxReceipt) -> int:
    stamp: int = protocol.w3.eth.get_block(receipt["blockNumber"])["timestamp"]
    return stamp


def change(protocol: Protocol, receipt: TxReceipt, read: ContractFunction) -> int:
    """How much one transaction moved a view: automine gives it a block of its own, so the
    state of the previous block is exactly the state it started from."""
    block = receipt["blockNumber"]
    assert len(protocol.w3.eth.get_block(block)["transactions"]) == 1
    after: int = read.call(block_identifier=block)
    before: int = read.call(block_identifier=block - 1)
    return after - before


def eth_change(protocol: Protocol, receipt: TxReceipt, account: str) -> int:
    block = receipt["blockNumber"]
    assert len(protocol.w3.eth.get_block(block)["transactions"]) == 1
    address, w3 = Web3.to_checksum_address(account), protocol.w3
    return int(w3.eth.get_balance(address, block) - w3.eth.get_balance(address, block - 1))


def gas_cost(receipt: TxReceipt) -> int:
    return int(receipt["gasUsed"] * receipt["effectiveGasPrice"])


def tx_params(sender: str, value: int) -> TxParams:
    return {"from": Web3.to_checksum_address(sender), "value": Wei(value)}


def assert_reverts(
    protocol: Protocol, call: ContractFunction, sender: str, reason: str, value: int = 0
) -> None:
    """The reason comes from an eth_call; then, when the sender can sign, the real transaction
    must fail too (Hardhat refuses it at gas estimation, or it is mined with status 0)."""
    with pytest.raises(ContractLogicError, match=re.escape(reason)):
        call.call(tx_params(sender, value))
    if sender not in protocol.w3.eth.accounts:
        return
    with pytest.raises((ContractLogicError, AssertionError)):
        send(protocol, call, sender, value)


def send(protocol: Protocol, call: ContractFunction, sender: str, value: int = 0) -> TxReceipt:
    tx_hash = call.transact(tx_params(sender, value))
    receipt = protocol.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=60)
    assert receipt["status"] == 1, "mined with status 0"
    return receipt


def synced(user: str, new: int, delta: int, fee: int, *, height: int = 0, timestamp: int) -> Event:
    return (
        AGG,
        "Synced",
        {
            "user": user,
            "newBalanceSats": new,
            "deltaSats": delta,
            "feeWei": fee,
            "height": height,
            "timestamp": timestamp,
        },
    )


def rbtc_transfer(source: str, target: str, amount: int) -> Event:
    return (SYNTH, "Transfer", {"from": source, "to": target, "amount": amount})


def spent(protocol: Protocol, user: str, fee: int) -> Event:
    return (VAULT, "Spent", {"user": user, "amount": fee, "by": protocol.contract(AGG).address})


def funded_user(protocol: Protocol, wei: int = DEPOSIT_WEI) -> str:
    user = protocol.new_user()
    protocol.deposit_fees(user, wei)
    return user


def grow(protocol: Protocol, user: str, sats: int) -> int:
    """Syncs `user` up by `sats` from wherever they are now; returns the new synced balance."""
    protocol.deposit_fees(user, DEPOSIT_WEI)
    new: int = protocol.contract(AGG).functions.lastSyncedSats(user).call() + sats
    protocol.sync(user, new)
    return new


class TestFeePolicy:
    def test_deployed_parameters(self, protocol: Protocol) -> None:
        policy = protocol.contract(POLICY).functions
        assert (policy.pctBps().call(), policy.fixedWei().call(), policy.weiPerSat().call()) == (
            PCT_BPS,
            FIXED_WEI,
            WEI_PER_SAT,
        )

    def test_quote_fees(self, protocol: Protocol) -> None:
        user = protocol.new_user()
        assert protocol.quote_fees(user, 100_000) == 100_000 * 10**12 * 100 // 10_000 + 10**15
        assert protocol.quote_fees(user, 100_000) == 2 * 10**15
        assert protocol.quote_fees(user, 1) == 10**10 + 10**15
        # Burns never pay the percentage, however large.
        assert protocol.quote_fees(user, 0) == 10**15
        assert protocol.quote_fees(user, -5) == 10**15
        assert protocol.quote_fees(user, -(2**63)) == 10**15


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
