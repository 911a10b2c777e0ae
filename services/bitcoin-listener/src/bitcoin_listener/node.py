"""The Bitcoin node's answers the listener needs, typed and checked.

Only methods Bitcoin Core and btcd both implement: `getblockcount`, `getblockhash`,
`getblockheader` and `getblock` at verbosity 2 (Core lists the transactions under `tx`, btcd
under `rawtx`). Amounts come as BTC in JSON numbers (`reservesync.bitcoin_blocks.sats_of`).
`ChainSource` is what the follower needs of any source; an Esplora HTTP API is the other one
(`bitcoin_listener.esplora_node`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from reservesync.bitcoin_blocks import Transaction, rpc_transaction
from reservesync.jsonrpc.client import JsonRpcClient, RpcError

NOT_FOUND = -5
"""Bitcoin Core's RPC_INVALID_ADDRESS_OR_KEY: the node does not know that block."""


class NodeInconsistent(Exception):
    """The node contradicts itself or the blocks already processed; nothing is published until
    it makes sense again. `kind` is a short label for metrics."""

    def __init__(self, kind: str, reason: str) -> None:
        self.kind = kind
        super().__init__(reason)


def require_asked_block(
    answered_height: int, answered_hash: str, height: int, block_hash: str, source: str
) -> None:
    """A source that answers another block than the one asked for (by hash, at a height) is
    not believed: what it says of that block would be published under the wrong height."""
    if answered_height != height or answered_hash != block_hash:
        raise NodeInconsistent(
            "wrong_block",
            f"asked for block {block_hash} at height {height}, the {source} answered block "
            f"{answered_hash} at height {answered_height}",
        )


@dataclass(frozen=True, slots=True)
class Block:
    height: int
    hash: str
    parent_hash: str | None
    time: datetime
    transactions: tuple[Transaction, ...]


class ChainSource(Protocol):
    """What the follower asks of a Bitcoin source: a node's JSON-RPC (`BitcoinNode`) or an
    Esplora HTTP API (`bitcoin_listener.esplora_node.EsploraNode`)."""

    async def head(self) -> int: ...

    async def hash_at(self, height: int) -> str | None:
        """The best chain's block at `height`; None above the source's head."""
        ...

    async def block(self, height: int, block_hash: str) -> Block:
        """The block `block_hash`, checked to be what the source said is at `height`."""
        ...

    async def header_time(self, height: int, block_hash: str) -> datetime:
        """The timestamp of block `block_hash`, checked to be at `height`."""
        ...

    async def in_best_chain(self, block_hash: str) -> bool | None:
        """Whether the best chain holds `block_hash`; None: the source does not know it."""
        ...

    async def close(self) -> None: ...


def parse_block(raw: dict[str, Any]) -> Block:
    transactions = []
    for tx in raw.get("tx") or raw.get("rawtx") or []:
        if not isinstance(tx, dict):
            raise ValueError("getblock answered without transaction details (verbosity 2)")
        transactions.append(rpc_transaction(tx))
    return Block(
        height=int(raw["height"]),
        hash=str(raw["hash"]).lower(),
        parent_hash=str(raw["previousblockhash"]).lower() if raw.get("previousblockhash") else None,
        time=datetime.fromtimestamp(int(raw["time"]), UTC),
        transactions=tuple(transactions),
    )


class BitcoinNode:
    def __init__(self, client: JsonRpcClient) -> None:
        self.client = client

    async def close(self) -> None:
        await self.client.close()

    async def head(self) -> int:
        return int(await self.client.call("getblockcount", []))

    async def hash_at(self, height: int) -> str | None:
        """The best chain's block at `height`; None above the node's head."""
        try:
            return str(await self.client.call("getblockhash", [height])).lower()
        except RpcError as error:
            if "out of range" in error.message.lower() or error.code == -8:
                return None
            raise

    async def block(self, height: int, block_hash: str) -> Block:
        """The block `block_hash`, checked to be what the node said is at `height`."""
        raw = await self.client.call("getblock", [block_hash, 2])
        if not isinstance(raw, dict):
            raise NodeInconsistent("bad_block", f"getblock {block_hash} answered {raw!r:.100}")
        try:
            block = parse_block(raw)
        except (KeyError, TypeError, ValueError) as exc:
            raise NodeInconsistent("bad_block", f"block {block_hash} unreadable: {exc}") from exc
        require_asked_block(block.height, block.hash, height, block_hash, "node")
        return block

    async def header_time(self, height: int, block_hash: str) -> datetime:
        """The timestamp of block `block_hash`, checked to be at `height`."""
        header = await self.client.call("getblockheader", [block_hash, True])
        if not isinstance(header, dict) or int(header.get("height", -1)) != height:
            raise NodeInconsistent(
                "wrong_block", f"block {block_hash} is not at height {height}: {header!r:.200}"
            )
        return datetime.fromtimestamp(int(header["time"]), UTC)

    async def in_best_chain(self, block_hash: str) -> bool | None:
        """Whether the node's best chain holds `block_hash`: Core says confirmations -1 for a
        block off it, btcd refuses with "not in the main chain"; None: the node does not know
        the block at all."""
        try:
            header = await self.client.call("getblockheader", [block_hash, True])
        except RpcError as error:
            if error.code == NOT_FOUND:
                return None
            if "not in the main chain" in error.message:
                return False
            raise
        return isinstance(header, dict) and int(header.get("confirmations", -1)) >= 1
