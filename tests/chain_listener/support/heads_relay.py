"""A WebSocket relay in front of the node, for the head subscription's tests: it repeats or
drops `newHeads` notifications, answers `eth_subscribe` with an error like a provider that has
no subscriptions, refuses new connections, and cuts the open ones."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
from aiohttp import web

NO_SUBSCRIPTIONS = {"code": -32601, "message": "the method eth_subscribe does not exist"}


class HeadsRelay:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.copies = 1
        """How many times each notification is passed on."""
        self.drop_next = 0
        """Notifications still to swallow."""
        self.refusing = False
        """New connections are answered HTTP 503 (the node's socket is down)."""
        self.without_subscriptions = False
        self.notifications_dropped = 0
        self.url = ""
        self._clients: set[web.WebSocketResponse] = set()

    async def __aenter__(self) -> HeadsRelay:
        self.session = aiohttp.ClientSession()
        app = web.Application()
        app.router.add_get("/", self._handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        host, port = self.runner.addresses[0][:2]
        self.url = f"ws://{host}:{port}"
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.cut()
        await self.runner.cleanup()
        await self.session.close()

    async def cut(self) -> None:
        """Close every open connection, as a node restart or a load balancer would."""
        for client in list(self._clients):
            await client.close()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if self.refusing:
            return web.Response(status=503, text="Service Unavailable")
        client = web.WebSocketResponse()
        await client.prepare(request)
        self._clients.add(client)
        try:
            async with self.session.ws_connect(self.upstream) as node:
                pumps = {
                    asyncio.ensure_future(self._to_node(client, node)),
                    asyncio.ensure_future(self._to_client(node, client)),
                }
                # Either side closing ends the relay of this connection.
                _, pending = await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
                for pump in pending:
                    pump.cancel()
        finally:
            self._clients.discard(client)
            await client.close()
        return client

    async def _to_node(
        self, client: web.WebSocketResponse, node: aiohttp.ClientWebSocketResponse
    ) -> None:
        async for message in client:
            if message.type != aiohttp.WSMsgType.TEXT:
                continue
            request: dict[str, Any] = json.loads(message.data)
            if self.without_subscriptions and request.get("method") == "eth_subscribe":
                answer = {"jsonrpc": "2.0", "id": request.get("id"), "error": NO_SUBSCRIPTIONS}
                await client.send_str(json.dumps(answer))
                continue
            await node.send_str(message.data)

    async def _to_client(
        self, node: aiohttp.ClientWebSocketResponse, client: web.WebSocketResponse
    ) -> None:
        async for message in node:
            if message.type != aiohttp.WSMsgType.TEXT:
                continue
            notification = json.loads(message.data).get("method") == "eth_subscription"
            if notification and self.drop_next > 0:
                self.drop_next -= 1
                self.notifications_dropped += 1
                continue
            for _ in range(self.copies if notification else 1):
                await client.send_str(message.data)
