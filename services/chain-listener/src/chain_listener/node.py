"""The chain reads the listener needs, as typed values parsed from raw JSON-RPC answers."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from reservesync.event_decoding import NodeLog
from reservesync.log_answers import decode_logs_answer, node_logs

from chain_listener.rpc import JsonRpcClient, RpcError

log = logging.getLogger(__name__)

# "Method not found", "invalid params" and Hardhat's "not supported": a node without
# eth_getBlockReceipts, or one that takes only a block number. Anything else is a real
# failure and is raised.
_UNSUPPORTED = (-32601, -32602, -32004)


@dataclass(frozen=True, slots=True)
class BlockHeader:
    number: int
    hash: str
    parent_hash: str
    timestamp: int
    logs_bloom: int
    transactions: tuple[str, ...] | None = None
    """The block's transaction hashes, kept only where receipts are read one transaction at
    a time (they come with the header: no extra call per block); None when not kept."""

    @classmethod
    def parse(cls, raw: dict[str, Any], *, keep_transactions: bool = False) -> BlockHeader:
        return cls(
            number=int(raw["number"], 16),
            hash=str(raw["hash"]).lower(),
            parent_hash=str(raw["parentHash"]).lower(),
            timestamp=int(raw["timestamp"], 16),
            logs_bloom=int(raw["logsBloom"], 16),
            transactions=tuple(map(str, raw["transactions"])) if keep_transactions else None,
        )


Log = NodeLog
"""A log as the node answered it (`reservesync.event_decoding.NodeLog`)."""


class Node:
    def __init__(self, client: JsonRpcClient, addresses: Sequence[str]) -> None:
        self.client = client
        self.addresses = list(addresses)
        self._watched = frozenset(a.lower() for a in addresses)
        self.has_block_receipts = True
        """Whether the node answers eth_getBlockReceipts (until it once says it does not)."""

    async def head(self) -> int:
        return int(await self.client.call("eth_blockNumber", []), 16)

    async def headers(self, numbers: Sequence[int]) -> list[BlockHeader | None]:
        """Headers in the order asked; None where the node has no such block (yet, or any
        more: a chain that got shorter in a reorg)."""
        answers = await self.client.batch(
            [("eth_getBlockByNumber", [hex(n), False]) for n in numbers]
        )
        keep = not self.has_block_receipts
        return [BlockHeader.parse(a, keep_transactions=keep) if a else None for a in answers]

    async def latest_header(self) -> BlockHeader:
        return BlockHeader.parse(await self.client.call("eth_getBlockByNumber", ["latest", False]))

    async def logs(self, first: int, last: int, *, attempts: int | None = None) -> list[Log]:
        answer = await self.client.call(
            "eth_getLogs",
            [{"fromBlock": hex(first), "toBlock": hex(last), "address": self.addresses}],
            attempts=attempts,
            answer=decode_logs_answer,
        )
        return node_logs(answer)

    async def logs_from_receipts(self, headers: Sequence[BlockHeader]) -> list[list[Log] | None]:
        """Each block's logs of our addresses, read from its receipts: a second source, kept
        by the node apart from the log index eth_getLogs answers from, so a log that index
        lost is still here. None for a block the node does not know (any more).

        One eth_getBlockReceipts per block; on a node without it (Hardhat), one
        eth_getTransactionReceipt per transaction of the block."""
        if self.has_block_receipts:
            try:
                answers = await self.client.batch(
                    [("eth_getBlockReceipts", [h.hash]) for h in headers]
                )
            except RpcError as exc:
                if exc.code not in _UNSUPPORTED:
                    raise
                self.has_block_receipts = False
                log.warning(
                    "the node does not answer eth_getBlockReceipts by block hash: receipts "
                    "are read one transaction at a time",
                    extra={"error": str(exc)},
                )
            else:
                return [None if r is None else self._our_logs(r) for r in answers]
        return await self._logs_from_transaction_receipts(headers)

    async def _logs_from_transaction_receipts(
        self, headers: Sequence[BlockHeader]
    ) -> list[list[Log] | None]:
        transactions = await self._transactions_of(headers)
        hashes = [tx for block in transactions if block is not None for tx in block]
        answers = await self.client.batch([("eth_getTransactionReceipt", [h]) for h in hashes])
        receipts = dict(zip(hashes, answers, strict=True))
        found: list[list[Log] | None] = []
        for block in transactions:
            if block is None:
                found.append(None)
                continue
            # A receipt missing now means a reorg between the calls: the logs' block hashes
            # (checked against the header) or the next range settle it.
            ours = [receipts[tx] for tx in block]
            found.append(self._our_logs([r for r in ours if r]))
        return found

    async def _transactions_of(
        self, headers: Sequence[BlockHeader]
    ) -> list[tuple[str, ...] | None]:
        """Each block's transaction hashes: from the header where it kept them, else asked
        by block hash (None: the node does not know the block any more)."""
        unknown = [h.hash for h in headers if h.transactions is None]
        asked = await self.client.batch([("eth_getBlockByHash", [h, False]) for h in unknown])
        fetched = {
            h: tuple(map(str, block["transactions"])) if block else None
            for h, block in zip(unknown, asked, strict=True)
        }
        return [h.transactions if h.transactions is not None else fetched[h.hash] for h in headers]

    def _our_logs(self, receipts: list[dict[str, Any]]) -> list[Log]:
        return [
            Log.parse(entry)
            for receipt in receipts
            for entry in receipt.get("logs", [])
            if str(entry.get("address", "")).lower() in self._watched
        ]

    async def code_present(self, addresses: Sequence[str]) -> list[bool]:
        answers = await self.client.batch([("eth_getCode", [a, "latest"]) for a in addresses])
        return [str(code) not in ("", "0x", "0x0") for code in answers]
