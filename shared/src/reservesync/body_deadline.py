"""A deadline on reading a request body, for every HTTP service (`HTTP_BODY_TIMEOUT_S`).

uvicorn bounds the wait for a request's headers and between requests, not the wait for a body:
a client that declares a body and then sends a byte now and then holds a connection, a task and
its buffers for as long as it likes, and a few hundred such clients starve the service. This
middleware gives the whole body one deadline from the start of the request; past it the request
is answered 408 with `Connection: close`, so the server drops the connection.

A response started before the body was fully read (a route that never reads it) also carries
`Connection: close`: the server would otherwise keep the connection to drain the rest.
"""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reservesync.http_errors import encoded


class BodyTimedOut(Exception):
    """The body did not arrive before the deadline."""


class BodyDeadline:
    def __init__(self, app: ASGIApp, *, timeout_s: float) -> None:
        self.app = app
        self.timeout_s = timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout_s
        body_done = False
        response_started = False

        async def receive_before_deadline() -> Message:
            nonlocal body_done
            if body_done:
                # After the body, receive() only waits for a disconnect: no deadline applies.
                return await receive()
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise BodyTimedOut
            try:
                async with asyncio.timeout(remaining):
                    message = await receive()
            except TimeoutError:
                raise BodyTimedOut from None
            if message["type"] != "http.request" or not message.get("more_body", False):
                body_done = True
            return message

        async def send_closing_when_unread(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
                if not body_done:
                    message["headers"] = [*message.get("headers", []), (b"connection", b"close")]
            await send(message)

        try:
            await self.app(scope, receive_before_deadline, send_closing_when_unread)
        except BodyTimedOut:
            if response_started:
                raise
            await _refuse(send, self.timeout_s, scope)


async def _refuse(send: Send, timeout_s: float, scope: Scope) -> None:
    request_id = scope.get("state", {}).get("request_id")
    body = encoded(
        "body_timeout",
        f"the request body did not arrive within {timeout_s:g}s",
        request_id if isinstance(request_id, str) else None,
    )
    await send(
        {
            "type": "http.response.start",
            "status": 408,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
