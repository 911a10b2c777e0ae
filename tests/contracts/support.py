"""What the tests of the protocol rules (SPEC section 4) share: the deployed contracts, the fee
rule, unlocked senders, and the events of a receipt decoded for exact comparison.

Other tests drive the same node, so every test uses fresh users or reads "before" values of
the unlocked accounts it sends from, and asserts deltas rather than absolute state.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from devstack.protocol import Protocol
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
