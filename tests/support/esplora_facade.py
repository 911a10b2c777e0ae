"""An Esplora-compatible HTTP API over the stack's real btcd: each request answered from the
node's own JSON-RPC, translated into the JSON shapes the Esplora API documents
(https://github.com/Blockstream/esplora/blob/master/API.md), so the listener's and the
verifier's Esplora clients read the same chain the JSON-RPC ones do. No Esplora server
(Blockstream's electrs) can be installed on these machines; this one serves what the clients
ask for, and nothing of it is invented: heights, hashes, times, transactions and amounts are
the node's.

It can misbehave the way public servers do: answer `throttled` requests with HTTP 429 and a
Retry-After, report a tip `lie_by` blocks below the node's, or answer block pages with
`garbled` JSON. It runs in a thread of its own (plain attributes set from the test take effect
at its next request).
"""

from __future__ import annotations

import asyncio
import base64
import threading
from decimal import Decimal
from typing import Any

import aiohttp
from aiohttp import web
from devstack.regtest import BitcoinNode

PAGE_SIZE = 25
NO_PARENT = "0" * 64


class _RpcFailed(Exception):
    def __init__(self, error: dict[str, Any]) -> None:
        self.code = int(error.get("code", 0))
        self.message = str(error.get("message", ""))
        super().__init__(f"{self.code} {self.message}")


def _sats(btc: object) -> int:
    return int(Decimal(repr(btc)) * 100_000_000)


def _input(raw: dict[str, Any]) -> dict[str, Any]:
    if "coinbase" in raw:
        return {
            "txid": NO_PARENT,
            "vout": 0xFFFFFFFF,
            "is_coinbase": True,
            "prevout": None,
            "scriptsig": raw["coinbase"],
            "sequence": raw.get("sequence"),
        }
    return {
        "txid": raw["txid"],
        "vout": raw["vout"],
        "is_coinbase": False,
        "scriptsig": raw.get("scriptSig", {}).get("hex", ""),
        "sequence": raw.get("sequence"),
    }


def _output(raw: dict[str, Any]) -> dict[str, Any]:
    script = raw["scriptPubKey"]
    addresses = script.get("addresses") or [script.get("address")]
    return {
        "scriptpubkey": script["hex"],
        "scriptpubkey_asm": script.get("asm", ""),
        "scriptpubkey_type": script.get("type", ""),
        "scriptpubkey_address": addresses[0],
        "value": _sats(raw["value"]),
    }


def _transaction(raw: dict[str, Any]) -> dict[str, Any]:
    return {
        "txid": raw["txid"],
        "version": raw.get("version"),
        "locktime": raw.get("locktime"),
        "vin": [_input(i) for i in raw["vin"]],
        "vout": [_output(o) for o in raw["vout"]],
        "size": raw.get("size"),
        "weight": raw.get("weight"),
    }


class EsploraFacade:
    def __init__(self, node: BitcoinNode) -> None:
        self.node = node
        self.lie_by = 0
        self.throttled = 0
        """Requests still to be answered with 429 (each one answered so counts down)."""
        self.garbled = False
        self.requests = 0
        self.url = ""
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    async def start(self) -> None:
        """Serve from a thread of its own, on its own event loop: a test blocking its loop (a
        synchronous RPC to mine or send) does not make the façade look down to the listener."""
        ready = threading.Event()
        self._thread = threading.Thread(
            target=self._serve, args=(ready,), name="esplora-facade", daemon=True
        )
        self._thread.start()
        await asyncio.to_thread(ready.wait, 30)
        if not self.url:
            raise RuntimeError("the Esplora façade did not start (see the test's log)")

    async def close(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, 30)

    def _serve(self, ready: threading.Event) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._open())
            ready.set()
            loop.run_forever()
        finally:
            ready.set()
            loop.run_until_complete(self._shut())
            loop.close()

    async def _open(self) -> None:
        app = web.Application(middlewares=[self._misbehave])
        routes = [
            web.get("/blocks/tip/height", self._tip_height),
            web.get("/block-height/{height}", self._hash_at),
            web.get("/block/{hash}", self._block),
            web.get("/block/{hash}/status", self._status),
            web.get("/block/{hash}/txids", self._txids),
            web.get("/block/{hash}/txs/{start}", self._page),
        ]
        app.add_routes(routes)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        login = base64.b64encode(f"{self.node.rpc_user}:{self.node.rpc_password}".encode())
        self._session = aiohttp.ClientSession(headers={"Authorization": f"Basic {login.decode()}"})
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"

    async def _shut(self) -> None:
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @web.middleware
    async def _misbehave(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.requests += 1
        if self.throttled > 0:
            self.throttled -= 1
            return web.Response(status=429, text="Too Many Requests", headers={"Retry-After": "1"})
        try:
            answer: web.StreamResponse = await handler(request)
        except _RpcFailed as failed:
            if failed.code in (-5, -8) or any(
                words in failed.message.lower() for words in ("not found", "out of range")
            ):
                return web.Response(status=404, text="Block not found")
            return web.Response(status=502, text=str(failed))
        return answer

    async def _rpc(self, method: str, *params: Any) -> Any:
        assert self._session is not None
        body = {"jsonrpc": "1.0", "id": 1, "method": method, "params": list(params)}
        async with self._session.post(self.node.rpc_url, json=body) as answer:
            reply = await answer.json(content_type=None)
        if reply.get("error") is not None:
            raise _RpcFailed(reply["error"])
        return reply["result"]

    async def _tip(self) -> int:
        return max(0, int(await self._rpc("getblockcount")) - self.lie_by)

    async def _tip_height(self, request: web.Request) -> web.Response:
        return web.Response(text=str(await self._tip()))

    async def _hash_at(self, request: web.Request) -> web.Response:
        height = int(request.match_info["height"])
        if height > await self._tip():
            return web.Response(status=404, text="Block not found")
        return web.Response(text=str(await self._rpc("getblockhash", height)))

    async def _block(self, request: web.Request) -> web.Response:
        raw = await self._rpc("getblock", request.match_info["hash"], 1)
        return web.json_response({
            "id": raw["hash"], "height": raw["height"], "version": raw.get("version"),
            "timestamp": raw["time"], "tx_count": len(raw["tx"]), "size": raw.get("size"),
            "weight": raw.get("weight"), "merkle_root": raw.get("merkleroot"),
            "previousblockhash": raw.get("previousblockhash") or None,
            "nonce": raw.get("nonce"), "bits": raw.get("bits"),
        })  # fmt: skip

    async def _status(self, request: web.Request) -> web.Response:
        try:
            header = await self._rpc("getblockheader", request.match_info["hash"], True)
        except _RpcFailed as failed:
            if "not in the main chain" not in failed.message:
                raise
            return web.json_response({"in_best_chain": False})
        best = int(header.get("confirmations", -1)) >= 1
        found = {"in_best_chain": best, "height": header["height"]}
        if best and header.get("nextblockhash"):
            found["next_best"] = header["nextblockhash"]
        return web.json_response(found)

    async def _txids(self, request: web.Request) -> web.Response:
        raw = await self._rpc("getblock", request.match_info["hash"], 1)
        return web.json_response(raw["tx"])

    async def _page(self, request: web.Request) -> web.Response:
        start = int(request.match_info["start"])
        if start % PAGE_SIZE:
            return web.Response(status=400, text="start index must be a multiple of 25")
        raw = await self._rpc("getblock", request.match_info["hash"], 2)
        transactions = raw.get("tx") or raw.get("rawtx") or []
        page = [_transaction(tx) for tx in transactions[start : start + PAGE_SIZE]]
        if self.garbled:
            return web.json_response([{"txid": "not hex", "vin": "?"} for _ in page])
        return web.json_response(page)
