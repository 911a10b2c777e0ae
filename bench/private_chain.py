"""The private-node helpers of the listener's tests (a Hardhat node of one's own with the six
contracts and the test-only ones), reused by the benchmarks rather than written twice.

mypy knows that directory's modules as `chain_listener.<file>`; at run time the directory is put
on the path and they are imported by file name.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from devstack.paths import repo_root

sys.path.insert(0, str(repo_root() / "tests" / "chain_listener"))
if TYPE_CHECKING:
    from chain_listener.chains import (
        PrivateChain,
        compile_with_test_contracts,
        deploy_test_contract,
        deposit_for_many,
        private_chain,
    )
else:
    from chains import (
        PrivateChain,
        compile_with_test_contracts,
        deploy_test_contract,
        deposit_for_many,
        private_chain,
    )

__all__ = [
    "PrivateChain",
    "compile_with_test_contracts",
    "deploy_test_contract",
    "deposit_for_many",
    "private_chain",
]
