"""The private-node helpers of the listener's tests (a Hardhat node of one's own with the six
contracts and the test-only ones), reused by the benchmarks rather than written twice.
"""

from __future__ import annotations

from pathlib import Path

from tests.chain_listener.support.chains import (
    PrivateChain,
    compile_with_test_contracts,
    deploy_test_contract,
    deposit_for_many,
    private_chain,
)

BACKFILL_CHAIN_ID = 31339
"""The backfill benchmarks' private chain: its event ids never meet the dev chain's (31337) or
the tests' (31338)."""
PER_TRANSACTION = 800  # new users cost ~31k gas each: 800 fit Hardhat's 30M block gas limit


def load_deposits(node: PrivateChain, contracts: Path, count: int) -> tuple[int, int, int]:
    """Mine `count` FeeVault Deposited events; returns (first block, last block, events)."""
    depositor = deploy_test_contract(node.w3, contracts, "BatchDepositor")
    first = node.head() + 1
    made = 0
    while made < count:
        # One seed: the same users every time, so storage is warm and loading is quick.
        batch = min(PER_TRANSACTION, count - made)
        made += len(deposit_for_many(node.protocol, depositor, 1, batch)["logs"])
    return first, node.head(), made


__all__ = [
    "BACKFILL_CHAIN_ID",
    "PrivateChain",
    "compile_with_test_contracts",
    "deploy_test_contract",
    "deposit_for_many",
    "load_deposits",
    "private_chain",
]
