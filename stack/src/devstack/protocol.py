"""Driving the deployed protocol contracts as the oracle committee and users do (tests, demo)."""

from __future__ import annotations

from typing import Any

from eth_account import Account
from reservesync.contracts import SystemContract, abi
from web3 import Web3
from web3.contract import Contract
from web3.types import TxReceipt

from devstack.deploy import DeploymentRecord


class Protocol:
    def __init__(self, rpc_url: str, deployment: DeploymentRecord) -> None:
        self.w3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": 30}))
        self.deployment = deployment
        self.owner = Web3.to_checksum_address(deployment.deployer)
        self.committee = Web3.to_checksum_address(deployment.committee)

    def contract(self, name: SystemContract) -> Contract:
        address = Web3.to_checksum_address(self.deployment.contracts[name].address)
        return self.w3.eth.contract(address=address, abi=abi(name))

    @staticmethod
    def new_user() -> str:
        """A fresh address per test, so tests sharing the stack never see each other's rows."""
        return str(Account.create().address)

    def transact(
        self, name: SystemContract, function: str, *args: Any, sender: str, value: int = 0
    ) -> TxReceipt:
        call = getattr(self.contract(name).functions, function)(*args)
        tx_hash = call.transact({"from": sender, "value": value})
        receipt = self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=60)
        if receipt["status"] != 1:
            raise AssertionError(f"{name}.{function}{args} reverted")
        return receipt

    def deposit_fees(self, user: str, wei: int) -> TxReceipt:
        return self.transact(
            SystemContract.FEE_VAULT, "depositFor", user, sender=self.owner, value=wei
        )

    def sync(self, user: str, balance_sats: int) -> TxReceipt:
        return self.transact(
            SystemContract.ORACLE_AGGREGATOR, "sync", user, balance_sats, b"", sender=self.committee
        )

    def quote_fees(self, user: str, delta: int) -> int:
        fee: int = self.contract(SystemContract.FEE_POLICY).functions.quoteFees(user, delta).call()
        return fee

    def wrap(self, user: str, sats: int) -> TxReceipt:
        """rBTC user → vault and wrBTC minted to the user (approve, then wrap)."""
        vault = self.contract(SystemContract.VAULT_WRBTC).address
        self.transact(SystemContract.RBTC_SYNTH, "approve", vault, sats, sender=user)
        return self.transact(SystemContract.VAULT_WRBTC, "wrap", sats, sender=user)

    def send_wrbtc(self, sender: str, receiver: str, sats: int) -> TxReceipt:
        return self.transact(
            SystemContract.VAULT_WRBTC,
            "transfer",
            Web3.to_checksum_address(receiver),
            sats,
            sender=sender,
        )

    def redeem(self, user: str, sats: int) -> TxReceipt:
        return self.transact(SystemContract.VAULT_WRBTC, "redeem", sats, sender=user)

    def emergency_burn(self, user: str) -> TxReceipt:
        return self.transact(
            SystemContract.ORACLE_AGGREGATOR, "executeEmergencyBurn", user, sender=self.committee
        )

    def held(self, holder: str) -> tuple[int, int]:
        """(rBTC, wrBTC) `balanceOf` the holder."""
        address = Web3.to_checksum_address(holder)
        return (
            int(self.contract(SystemContract.RBTC_SYNTH).functions.balanceOf(address).call()),
            int(self.contract(SystemContract.VAULT_WRBTC).functions.balanceOf(address).call()),
        )

    def total_supplies(self) -> tuple[int, int]:
        """(rBTC, wrBTC) `totalSupply`."""
        return (
            int(self.contract(SystemContract.RBTC_SYNTH).functions.totalSupply().call()),
            int(self.contract(SystemContract.VAULT_WRBTC).functions.totalSupply().call()),
        )

    def last_synced(self, user: str) -> int:
        aggregator = self.contract(SystemContract.ORACLE_AGGREGATOR)
        return int(aggregator.functions.lastSyncedSats(Web3.to_checksum_address(user)).call())
