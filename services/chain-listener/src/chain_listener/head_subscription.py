"""The `eth_subscribe newHeads` subscription over WebSocket (`CHAIN_WS_URL`): each notification
announces a block to the follower's `HeadSignal`, so a block is fetched when it arrives
instead of at the next poll.

When the socket fails or closes, or the node has no such subscription, the signal falls back
to polling and the subscription is tried again after a jittered pause that grows with each
failure (the RPC failover's backoff). Calls stay on the HTTP client: the socket carries
nothing but notifications."""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from typing import Any, NoReturn

import aiohttp

from chain_listener import metrics
from chain_listener.failover import Endpoint, EndpointPool
from chain_listener.head_signal import HeadSignal

log = logging.getLogger(__name__)

SUBSCRIBE_REQUEST_ID = 1
PING_INTERVAL_S = 10.0
"""A WebSocket ping this often; without a pong within half of it the socket is closed, so a
connection that died silently (no close frame) falls back to polling within seconds."""


@dataclass(frozen=True)
class Dropped:
    reason: str
    detail: str


class _Ended(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        self.reason = reason
        super().__init__(detail)


class HeadSubscription:
    def __init__(self, url: str, signal: HeadSignal, *, timeout_s: float) -> None:
        self.url = url
        self.signal = signal
        self.timeout_s = timeout_s
        self.backoff = Endpoint(url)

    async def run(self) -> None:
        """Subscribed whenever the node allows, until cancelled."""
        async with aiohttp.ClientSession() as session:
            while True:
                dropped = await self._subscribed_until_dropped(session)
                self.signal.subscribed = False
                rest_s = EndpointPool.failed(self.backoff)
                metrics.HEAD_RECONNECTS.labels(dropped.reason).inc()
                # Loud when it goes down, quiet while a node without it is retried.
                log.log(
                    logging.WARNING if self.backoff.failures == 1 else logging.INFO,
                    "newHeads subscription down: polling until it is back",
                    extra={
                        "url": self.url,
                        "reason": dropped.reason,
                        "detail": dropped.detail[:300],
                        "retry_in_s": round(rest_s, 2),
                    },
                )
                await asyncio.sleep(rest_s)

    async def _subscribed_until_dropped(self, session: aiohttp.ClientSession) -> Dropped:
        try:
            async with asyncio.timeout(self.timeout_s):  # a handshake that never ends
                socket = await session.ws_connect(
                    self.url,
                    heartbeat=PING_INTERVAL_S,
                    timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=self.timeout_s),
                )
            async with socket:
                subscription = await self._subscribe(socket)
                self.signal.subscribed = True
                metrics.HEAD_SUBSCRIPTIONS.inc()
                log.info(
                    "following new heads by push",
                    extra={"url": self.url, "subscription": subscription},
                )
                await self._announce_until_closed(socket, subscription)
        except _Ended as ended:
            return Dropped(ended.reason, str(ended))
        except TimeoutError:
            return Dropped("timeout", f"no answer within {self.timeout_s}s")
        except (aiohttp.ClientError, OSError) as error:
            return Dropped("connection", f"{type(error).__name__}: {error}")

    async def _subscribe(self, socket: aiohttp.ClientWebSocketResponse) -> str:
        request = {
            "jsonrpc": "2.0",
            "id": SUBSCRIBE_REQUEST_ID,
            "method": "eth_subscribe",
            "params": ["newHeads"],
        }
        async with asyncio.timeout(self.timeout_s):
            await socket.send_str(json.dumps(request))
            while True:
                answer = await _next_message(socket)
                if answer.get("id") != SUBSCRIBE_REQUEST_ID:
                    continue  # nothing else was asked: a stray message is no answer
                if answer.get("error") is not None or not answer.get("result"):
                    # The provider has no subscriptions (or not this one): polling it is.
                    raise _Ended("refused", f"eth_subscribe newHeads: {answer}")
                return str(answer["result"])

    async def _announce_until_closed(
        self, socket: aiohttp.ClientWebSocketResponse, subscription: str
    ) -> NoReturn:
        while True:
            message = await _next_message(socket)
            params = message.get("params")
            if (
                message.get("method") == "eth_subscription"
                and isinstance(params, dict)
                and params.get("subscription") == subscription
            ):
                metrics.HEAD_NOTIFICATIONS.inc()
                # Only a subscription that delivers counts as working: one the node accepts
                # and then drops at once keeps backing off.
                EndpointPool.succeeded(self.backoff)
                self.signal.announce()


async def _next_message(socket: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    """The next JSON object on the socket; raises `_Ended` when the socket closes."""
    while True:
        message = await socket.receive()
        if message.type == aiohttp.WSMsgType.TEXT:
            try:
                document = json.loads(message.data)
            except ValueError as error:
                raise _Ended("invalid_message", f"not JSON: {message.data[:200]!r}") from error
            if isinstance(document, dict):
                return document
            continue  # a batch answer: never asked for on this socket
        if message.type == aiohttp.WSMsgType.BINARY:
            continue
        if message.type == aiohttp.WSMsgType.ERROR:
            raise _Ended("connection", f"socket error: {socket.exception()}")
        raise _Ended("closed", f"socket closed ({message.type.name}, code {socket.close_code})")
