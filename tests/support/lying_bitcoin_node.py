"""A JSON-RPC proxy in front of the real Bitcoin node that can lie about the chain: its height
(`getblockcount` answers `lie_by` blocks less than the node has), the way a node restored from
an old backup, or one behind a load balancer, contradicts what a client already saw; or the
parent of every block (`forge_parents`: `getblock` names a parent the node does not have)."""

from __future__ import annotations

import json

import aiohttp
from aiohttp import web


class LyingBitcoinNode:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.lie_by = 0
        self.forge_parents = False
        self.url = ""
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/", self._forward)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        self._session = aiohttp.ClientSession()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _forward(self, request: web.Request) -> web.Response:
        assert self._session is not None
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower() == "authorization"}
        async with self._session.post(self.upstream, data=body, headers=headers) as answer:
            status, raw = answer.status, await answer.read()
        if (self.lie_by or self.forge_parents) and status == 200:
            raw = self._lie(json.loads(body), json.loads(raw))
        return web.Response(status=status, body=raw, content_type="application/json")

    def _lie(self, asked: object, answered: object) -> bytes:
        def fix(question: object, answer: object) -> object:
            if (
                isinstance(question, dict)
                and isinstance(answer, dict)
                and question.get("method") == "getblockcount"
                and isinstance(answer.get("result"), int)
            ):
                return {**answer, "result": max(0, answer["result"] - self.lie_by)}
            if (
                self.forge_parents
                and isinstance(question, dict)
                and isinstance(answer, dict)
                and question.get("method") == "getblock"
                and isinstance(answer.get("result"), dict)
            ):
                return {**answer, "result": {**answer["result"], "previousblockhash": "00" * 32}}
            return answer

        if isinstance(asked, list) and isinstance(answered, list):
            return json.dumps([fix(q, a) for q, a in zip(asked, answered, strict=False)]).encode()
        return json.dumps(fix(asked, answered)).encode()
