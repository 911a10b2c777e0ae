"""The chain reads the listener needs, as typed values parsed from raw JSON-RPC answers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from reservesync.event_decoding import NodeLog

from chain_listener.rpc import JsonRpcClient


@dataclass(frozen=True, slots=True)
class BlockHeader:
    number: int
    hash: str
    parent_hash: str
    timestamp: int
    logs_bloom: int

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> BlockHeader:
        return cls(
            number=int(raw["number"], 16),
            hash=str(raw["hash"]).lower(),
            parent_hash=str(raw["parentHash"]).lower(),
            timestamp=int(raw["timestamp"], 16),
            logs_bloom=int(raw["logsBloom"], 16),
        )


Log = NodeLog
"""A log as the node answered it (`reservesync.event_decoding.NodeLog`)."""


class Node:
    def __init__(self, client: JsonRpcClient, addresses: Sequence[str]) -> None:
        self.client = client
        self.addresses = list(addresses)

    async def head(self) -> int:
        return int(await self.client.call("eth_blockNumber", []), 16)

    async def headers(self, numbers: Sequence[int]) -> list[BlockHeader | None]:
        """Headers in the order asked; None where the node has no such block (yet, or any
        more: a chain that got shorter in a reorg)."""
        answers = await self.client.batch(
            [("eth_getBlockByNumber", [hex(n), False]) for n in numbers]
        )
        return [BlockHeader.parse(a) if a else None for a in answers]

    async def latest_header(self) -> BlockHeader:
        return BlockHeader.parse(await self.client.call("eth_getBlockByNumber", ["latest", False]))

    async def logs(self, first: int, last: int, *, attempts: int | None = None) -> list[Log]:
        answer = await self.client.call(
            "eth_getLogs",
            [{"fromBlock": hex(first), "toBlock": hex(last), "address": self.addresses}],
            attempts=attempts,
        )
        return [Log.parse(entry) for entry in answer]

    async def logs_of_blocks(self, block_hashes: Sequence[str]) -> list[list[Log]]:
        """Each block's logs, asked by block hash (EIP-234): exactly that block or an error."""
        answers = await self.client.batch(
            [("eth_getLogs", [{"blockHash": h, "address": self.addresses}]) for h in block_hashes]
        )
        return [[Log.parse(entry) for entry in answer] for answer in answers]

    async def code_present(self, addresses: Sequence[str]) -> list[bool]:
        answers = await self.client.batch([("eth_getCode", [a, "latest"]) for a in addresses])
        return [str(code) not in ("", "0x", "0x0") for code in answers]
