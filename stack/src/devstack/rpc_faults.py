"""An RPC proxy in front of the real node that misbehaves the way providers do: HTTP 429 with
Retry-After, answers later than the client waits, "query returned more than 10000 results"
with a suggested range, silently truncated eth_getLogs pages, a log index that lost whole
blocks (eth_getLogs answers without them, the receipts still hold them), and plain latency.

Every fault is counted, so a test can prove the faults it survived really happened; each
kind is injected at most `limit` times, so the run stays short. `outage` makes every request
fail with HTTP 503 until it is cleared (a provider down for a while).
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections import Counter
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web


@dataclass(frozen=True)
class Faults:
    rate_limit_every: int = 0
    """Every Nth request gets HTTP 429 with `retry_after`."""
    retry_after: str = "1"
    timeout_every: int = 0
    """Every Nth request is answered only after `hold_s` (longer than the client waits)."""
    hold_s: float = 2.0
    max_log_blocks: int = 0
    """eth_getLogs over more blocks is refused, naming a range of this many blocks."""
    truncate_every: int = 0
    """Every Nth eth_getLogs over a block range with 2+ logs returns only the first half."""
    omit_blocks_every: int = 0
    """Every eth_getLogs answer (by range or by hash, alone or in a batch) lacks the logs of
    blocks whose number is a multiple of N; eth_getBlockReceipts still shows them. Not
    limited: the node's index lost those blocks for good."""
    serve_block_receipts: bool = False
    """Answer eth_getBlockReceipts (which Hardhat lacks) from the node's own block and
    transaction receipts, as geth, reth and erigon do."""
    latency_s: float = 0.0
    limit: int = 3


class FaultyRpcProxy:
    def __init__(self, upstream: str, faults: Faults) -> None:
        self.upstream = upstream
        self.faults = faults
        self.injected: Counter[str] = Counter()
        self.log_ranges: list[tuple[int, int]] = []
        """Every block range asked with eth_getLogs, in order."""
        self.requests = itertools.count(1)
        self.range_queries = itertools.count(1)
        self.url = ""
        self.outage = False

    async def __aenter__(self) -> FaultyRpcProxy:
        self.session = aiohttp.ClientSession()
        app = web.Application()
        app.router.add_post("/", self._handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        host, port = self.runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.runner.cleanup()
        await self.session.close()

    def _due(self, kind: str, every: int, count: int) -> bool:
        if every <= 0 or count % every or self.injected[kind] >= self.faults.limit:
            return False
        self.injected[kind] += 1
        return True

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        number = next(self.requests)
        if self.outage:
            self.injected["outage"] += 1
            return web.Response(status=503, text="Service Unavailable")
        await asyncio.sleep(self.faults.latency_s)
        if self._due("rate_limited", self.faults.rate_limit_every, number):
            headers = {"Retry-After": self.faults.retry_after}
            return web.Response(status=429, text="Too Many Requests", headers=headers)
        if self._due("timeout", self.faults.timeout_every, number):
            await asyncio.sleep(self.faults.hold_s)
        return web.json_response(await self._answer(json.loads(body), body))

    async def _answer(self, payload: Any, body: bytes) -> Any:
        """The JSON answer to a request that got through the transport's faults."""
        if self.faults.serve_block_receipts and _asks(payload, "eth_getBlockReceipts"):
            return await self._with_block_receipts(payload)
        logs_range = _log_range(payload)
        if logs_range is None:
            return self._omitted(payload, json.loads(await self._upstream(body)))
        self.log_ranges.append(logs_range)
        first, last = logs_range
        allowed = self.faults.max_log_blocks
        if allowed and last - first + 1 > allowed:
            self.injected["range_refused"] += 1
            message = (
                "query returned more than 10000 results. Try with this block range "
                f"[{hex(first)}, {hex(first + allowed - 1)}]."
            )
            error = {"code": -32005, "message": message}
            return {"jsonrpc": "2.0", "id": payload["id"], "error": error}
        answer = self._omitted(payload, json.loads(await self._upstream(body)))
        logs = answer.get("result") or []
        if len(logs) >= 2 and self._due(
            "truncated", self.faults.truncate_every, next(self.range_queries)
        ):
            answer["result"] = logs[: len(logs) // 2]
        return answer

    def _omitted(self, payload: Any, answer: Any) -> Any:
        """The answer without the logs of the blocks the index lost (eth_getLogs only)."""
        every = self.faults.omit_blocks_every
        if not every:
            return answer
        methods = {item.get("id"): item.get("method") for item in _items(payload)}
        for item in _items(answer):
            logs = item.get("result")
            if methods.get(item.get("id")) != "eth_getLogs" or not isinstance(logs, list):
                continue
            kept = [entry for entry in logs if int(entry["blockNumber"], 16) % every]
            self.injected["omitted"] += len(logs) - len(kept)
            item["result"] = kept
        return answer

    async def _with_block_receipts(self, payload: Any) -> Any:
        answers = []
        for item in _items(payload):
            if item.get("method") != "eth_getBlockReceipts":
                answers.append(json.loads(await self._upstream(json.dumps(item).encode())))
                continue
            block = await self._call("eth_getBlockByHash", [item["params"][0], False])
            result = None
            if block is not None:
                result = [
                    await self._call("eth_getTransactionReceipt", [tx])
                    for tx in block["transactions"]
                ]
            answers.append({"jsonrpc": "2.0", "id": item.get("id"), "result": result})
        return answers if isinstance(payload, list) else answers[0]

    async def _call(self, method: str, params: list[Any]) -> Any:
        request = {"jsonrpc": "2.0", "id": 0, "method": method, "params": params}
        return json.loads(await self._upstream(json.dumps(request).encode())).get("result")

    async def _upstream(self, body: bytes) -> bytes:
        headers = {"Content-Type": "application/json"}
        async with self.session.post(self.upstream, data=body, headers=headers) as answer:
            return await answer.read()


def _items(message: Any) -> list[dict[str, Any]]:
    return [m for m in (message if isinstance(message, list) else [message]) if isinstance(m, dict)]


def _asks(payload: Any, method: str) -> bool:
    return any(item.get("method") == method for item in _items(payload))


def _log_range(payload: Any) -> tuple[int, int] | None:
    """(first, last) of a single eth_getLogs over a block range; None for anything else."""
    if not isinstance(payload, dict) or payload.get("method") != "eth_getLogs":
        return None
    query = payload["params"][0]
    if "fromBlock" not in query:
        return None
    return int(query["fromBlock"], 16), int(query["toBlock"], 16)
