"""The private-node helpers of the listener's tests (a Hardhat node of one's own with the six
contracts and the test-only ones), reused by the benchmarks rather than written twice.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from reservesync.contracts import SystemContract
from web3.contract import Contract

from tests.chain_listener.support.chains import (
    PrivateChain,
    compile_with_test_contracts,
    deploy_test_contract,
    deposit_for_many,
    private_chain,
    rpc,
)

BACKFILL_CHAIN_ID = 31339
"""The backfill benchmarks' private chain: its event ids never meet the dev chain's (31337) or
the tests' (31338)."""
PER_TRANSACTION = 800  # new users cost ~31k gas each: 800 fit Hardhat's 30M block gas limit


def deposit_transaction(
    node: PrivateChain, depositor: Contract, seed: int, count: int, margin: float = 1.5
) -> dict[str, str]:
    """One BatchDepositor call making `count` Deposited events (1 wei each, users
    `batch_user(seed, i)`), as eth_sendTransaction params. Its gas is estimated here once, with
    a margin but within the block's limit: a sender that leaves it out makes the node run every
    transaction twice (the estimate, then the block)."""
    vault = node.protocol.contract(SystemContract.FEE_VAULT).address
    data = depositor.encode_abi("depositForMany", args=[vault, seed, count])
    tx = {"from": node.protocol.owner, "to": depositor.address, "data": data}
    gas = node.w3.eth.estimate_gas({**tx, "value": count})  # type: ignore[typeddict-item]
    limit = int(node.w3.eth.get_block("latest")["gasLimit"])
    return {**tx, "value": hex(count), "gas": hex(min(limit, int(gas * margin)))}


def load_deposits(
    node: PrivateChain,
    contracts: Path,
    count: int,
    progress: Callable[[int], None] = lambda made: None,
) -> tuple[int, int, int]:
    """Mine `count` FeeVault Deposited events; returns (first block, last block, events).
    `progress` hears the events made so far after each transaction (a long load says how far
    it is)."""
    depositor = deploy_test_contract(node.w3, contracts, "BatchDepositor")
    first = node.head() + 1
    # One seed: the same users every time, so storage is warm and loading is quick. The
    # estimate is taken while they are new, the dearest case, so it covers every later call.
    full = deposit_transaction(node, depositor, 1, PER_TRANSACTION)
    made = 0
    while made < count:
        batch = min(PER_TRANSACTION, count - made)
        tx = full if batch == PER_TRANSACTION else deposit_transaction(node, depositor, 1, batch)
        # Automine answers once the block is mined. The receipt is asked for even so: until
        # it is, Hardhat holds the transaction's whole execution result (~100 MiB for 800
        # events; a 1M load passed 18 GB), and asking releases it and is faster overall.
        mined = rpc(node.w3, "eth_getTransactionReceipt", rpc(node.w3, "eth_sendTransaction", tx))
        if int(mined["status"], 16) != 1:
            raise AssertionError(f"deposit transaction {mined['transactionHash']} reverted")
        made += batch
        progress(made)
    return first, node.head(), made


__all__ = [
    "BACKFILL_CHAIN_ID",
    "PrivateChain",
    "compile_with_test_contracts",
    "deploy_test_contract",
    "deposit_for_many",
    "deposit_transaction",
    "load_deposits",
    "private_chain",
]
