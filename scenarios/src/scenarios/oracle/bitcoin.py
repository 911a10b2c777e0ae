"""The oracle's read side of Bitcoin: the confirmed balances of its users' addresses, read from
the node over JSON-RPC, never from what the simulator remembers having sent.

The node's blocks are scanned (`reservesync.reserves_evidence.BitcoinReader`: every output
paying an address's script, less those spent) rather than asked of an address index (btcd's
`--addrindex` with `searchrawtransactions`) because:

- `getblockhash` and `getblock` at verbosity 2 are all it needs, which Bitcoin Core and btcd
  both serve (the bitcoin-listener and the verifier read the same calls), so the stack's btcd
  runs without an extra index to build and keep, and a container stack's Bitcoin Core works too;
- a balance "at height H" is exactly what the scan yields, so confirmations are counted on the
  blocks themselves: an output counts once its block is `confirmations` deep, a spend likewise.

The scan starts where the oracle began: its users' keys are newer than that block, so nothing
below it can pay them, and a cycle reads only the blocks of its own world.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from devstack.regtest import BitcoinNode
from reservesync.bitcoin_address import script_for
from reservesync.messages import Network
from reservesync.reserves_evidence import BitcoinReader

SOURCE = "bitcoin-rpc"
"""What the oracle's operations name as their source (`sources_used`)."""


class ConfirmedBalances:
    def __init__(self, node: BitcoinNode, *, confirmations: int, from_height: int) -> None:
        if confirmations < 1:
            raise ValueError("a balance is confirmed by at least its own block")
        self.network = Network(node.network)
        self.confirmations = confirmations
        self.from_height = from_height
        self._reader = BitcoinReader(node.rpc_url, auth=(node.rpc_user, node.rpc_password))

    async def confirmed_height(self) -> int:
        """The newest block with `confirmations` blocks on it (itself included)."""
        tip = await asyncio.to_thread(self._reader.tip)
        return tip - self.confirmations + 1

    async def balances(self, addresses: Iterable[str], height: int) -> dict[str, int]:
        """Confirmed sats of each address at `height` (0 for one never paid)."""
        scripts = {script_for(address, self.network): address for address in addresses}
        if not scripts:
            return {}
        return await asyncio.to_thread(
            self._reader.balances, scripts, height, from_height=self.from_height
        )
