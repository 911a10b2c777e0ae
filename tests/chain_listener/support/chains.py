"""Chains for the listener's tests: a private Hardhat node (for reorgs: snapshots and reverts
there disturb nobody), accounts that can send without keys, and the test-only contracts of
`contracts/test/` (compiled and deployed by the tests themselves, never by the stack)."""

from __future__ import annotations

import json
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devstack import chain, procs
from devstack.deploy import DeploymentRecord, deploy
from devstack.protocol import Protocol
from eth_abi.abi import encode
from eth_account import Account
from eth_utils.crypto import keccak
from reservesync.contracts import SystemContract
from web3 import Web3
from web3.contract import Contract
from web3.types import TxParams, TxReceipt, Wei

PRIVATE_CHAIN_ID = 31338
"""Not the dev chain's 31337: the same deployer and nonces give the same transactions, and
only the chain id keeps the two chains' event ids apart on the shared topics."""


def compile_with_test_contracts(out: Path) -> Path:
    """The system contracts and `contracts/test/*.sol`, compiled into `out`."""
    chain.ensure_node_modules()
    result = subprocess.run(
        ["node", "scripts/compile.js", str(out)],
        cwd=chain.contracts_dir(),
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise AssertionError(f"solc failed:\n{result.stdout}\n{result.stderr}")
    return out


def artifact(build: Path, name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((build / f"{name}.json").read_text())
    return loaded


def deploy_test_contract(w3: Web3, build: Path, name: str) -> Contract:
    compiled = artifact(build, name)
    factory = w3.eth.contract(abi=compiled["abi"], bytecode=compiled["bytecode"])
    receipt = mined(w3, factory.constructor().transact({"from": w3.eth.accounts[0]}))
    address = receipt["contractAddress"]
    assert address is not None
    return w3.eth.contract(address=address, abi=compiled["abi"])


def mined(w3: Web3, tx_hash: Any) -> TxReceipt:
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=60)
    assert receipt["status"] == 1, f"transaction {tx_hash.hex()} reverted"
    return receipt


def rpc(w3: Web3, method: str, *params: Any) -> Any:
    """A node method web3 has no wrapper for (Hardhat's evm_* and hardhat_*)."""
    answer = w3.provider.make_request(method, list(params))  # type: ignore[arg-type]
    if "error" in answer:
        raise AssertionError(f"{method}{params}: {answer['error']}")
    return answer["result"]


def account_that_sends(w3: Web3, eth: int = 10) -> str:
    """A fresh address the node lets send transactions (impersonated, funded): tests never
    share a sender, so nothing they do depends on another test's nonces or balances."""
    address = str(Account.create().address)
    rpc(w3, "hardhat_impersonateAccount", address)
    rpc(w3, "hardhat_setBalance", address, hex(eth * 10**18))
    return address


def hash_hex(value: Any) -> str:
    return "0x" + bytes(value).hex()


def batch_user(seed: int, index: int) -> str:
    """User `index` of a BatchDepositor.depositForMany call with `seed` (as the contract
    derives it)."""
    return "0x" + keccak(encode(["uint256", "uint256"], [seed, index]))[-20:].hex()


def deposit_for_many(
    protocol: Protocol, depositor: Contract, seed: int, count: int, each_wei: int = 1
) -> TxReceipt:
    """`count` FeeVault Deposited events (users `batch_user(seed, i)`) in one transaction."""
    vault = protocol.contract(SystemContract.FEE_VAULT).address
    call = depositor.functions.depositForMany(vault, seed, count)
    params: TxParams = {"from": protocol.owner, "value": Wei(count * each_wei)}
    return mined(protocol.w3, call.transact(params))


@dataclass(frozen=True)
class PrivateChain:
    rpc_url: str
    deployment: DeploymentRecord
    protocol: Protocol

    @property
    def w3(self) -> Web3:
        return self.protocol.w3

    def head(self) -> int:
        return int(self.w3.eth.block_number)

    def addresses(self) -> list[str]:
        return [contract.address for contract in self.deployment.contracts.values()]

    def snapshot(self) -> str:
        return str(rpc(self.w3, "evm_snapshot"))

    def revert(self, snapshot: str) -> None:
        assert rpc(self.w3, "evm_revert", snapshot) is True, f"snapshot {snapshot} is gone"

    def mine(self, blocks: int) -> None:
        if blocks > 0:
            rpc(self.w3, "hardhat_mine", hex(blocks))

    def block_hash(self, number: int) -> str:
        return hash_hex(self.w3.eth.get_block(number)["hash"])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def private_chain(
    build: Path, name: str, chain_id: int = PRIVATE_CHAIN_ID
) -> Iterator[PrivateChain]:
    """A second Hardhat node (contracts/test/hardhat.config.js: its own chain id, no interval
    mining) with the six contracts deployed; stopped afterwards."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    procs.start(
        name,
        [
            "node_modules/.bin/hardhat",
            "--config",
            "test/hardhat.config.js",
            "node",
            "--hostname",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        cwd=chain.contracts_dir(),
        env={"RESERVESYNC_TEST_CHAIN_ID": str(chain_id)},
    )
    try:
        procs.wait_for("the private Hardhat node", lambda: chain.answers(url), 90, name)
        record = deploy(url, build)
        yield PrivateChain(url, record, Protocol(url, record))
    finally:
        procs.stop(name)
