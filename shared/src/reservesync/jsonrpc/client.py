"""A small async JSON-RPC client: single calls and batches, retries, failover between URLs.
Shared by the chain-listener (an EVM node) and the bitcoin-listener (Bitcoin Core's RPC, which
btcd also speaks: HTTP basic auth, and `"error": null` in every successful answer).

web3's provider hides what went wrong (and is slow at formatting large log sets); this client
keeps the raw JSON and tells apart what a retry can fix (timeouts, HTTP 429/5xx, refused
connections, rate-limit errors) from what it cannot (a JSON-RPC error such as "query returned
more than 10000 results", which the caller answers by asking differently).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
from collections.abc import Callable, Sequence
from typing import Any

import aiohttp
from prometheus_client import Counter

from reservesync.heartbeat import heartbeat
from reservesync.jsonrpc.failover import Endpoint, EndpointPool, parse_retry_after

log = logging.getLogger(__name__)

Call = tuple[str, list[Any]]
AnswerDecoder = Callable[[bytes], Any]
"""An answer's body → its JSON, raising ValueError for one that is not JSON."""
RATE_LIMIT_WORDS = ("rate limit", "too many requests", "exceeded the quota", "capacity exceeded")


class RpcError(Exception):
    """The node answered, with a JSON-RPC error object."""

    def __init__(self, method: str, error: dict[str, Any]) -> None:
        self.method = method
        self.code = int(error.get("code", 0))
        self.message = str(error.get("message", ""))
        self.data = error.get("data")
        super().__init__(f"{method}: {self.code} {self.message}")

    @property
    def text(self) -> str:
        """Message and data together: providers put range hints in either."""
        return f"{self.message} {self.data if self.data is not None else ''}"


class RpcUnavailable(Exception):
    """No URL answered within the attempts the caller allowed."""

    def __init__(self, kind: str, detail: str) -> None:
        self.kind = kind
        super().__init__(f"{kind}: {detail}")


class _Transient(Exception):
    def __init__(self, kind: str, detail: str, retry_after_s: float | None = None) -> None:
        self.kind = kind
        self.retry_after_s = retry_after_s
        super().__init__(detail)


def _is_rate_limit(error: object) -> bool:
    if not isinstance(error, dict):
        return False
    message = str(error.get("message", "")).lower()
    return error.get("code") == 429 or any(word in message for word in RATE_LIMIT_WORDS)


class JsonRpcClient:
    def __init__(
        self,
        urls: list[str],
        *,
        timeout_s: float,
        batch_size: int,
        errors: Counter,
        calls: Counter | None = None,
        auth: aiohttp.BasicAuth | None = None,
        dependency: str = "rpc",
    ) -> None:
        """`errors`: the caller's counter of failed calls, labelled by kind; `calls`: its
        counter of calls asked for, labelled by method (metered providers bill per call);
        `dependency`: the name the heartbeat waits for while no URL answers."""
        self.pool = EndpointPool(urls)
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)
        self.batch_size = batch_size
        self.errors = errors
        self.calls = calls
        self.auth = auth
        self.dependency = dependency
        self.ids = itertools.count(1)
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self.timeout, auth=self.auth)
        return self._session

    async def call(
        self,
        method: str,
        params: list[Any],
        *,
        attempts: int | None = None,
        answer: AnswerDecoder = json.loads,
    ) -> Any:
        """The call's result; `attempts=None` retries transient failures until one succeeds.
        `answer`: how the body is decoded, for a method whose results have a known shape."""
        self._count(method)
        request = {"jsonrpc": "2.0", "id": next(self.ids), "method": method, "params": params}
        body = await self._exchange(request, attempts, answer)
        if not isinstance(body, dict):
            raise RpcError(method, {"code": 0, "message": f"not a JSON-RPC response: {body!r}"})
        if body.get("error") is not None:
            raise RpcError(method, body["error"])
        return body.get("result")

    async def batch(self, calls: Sequence[Call]) -> list[Any]:
        """Results in the order of `calls`, sent in batches of `batch_size` at once."""
        for method, _ in calls:
            self._count(method)
        chunks = [calls[i : i + self.batch_size] for i in range(0, len(calls), self.batch_size)]
        answers = await asyncio.gather(*(self._batch_once(chunk) for chunk in chunks))
        return [result for chunk in answers for result in chunk]

    def _count(self, method: str) -> None:
        if self.calls is not None:
            self.calls.labels(method).inc()

    async def _batch_once(self, calls: Sequence[Call]) -> list[Any]:
        ids = [next(self.ids) for _ in calls]
        requests = [
            {"jsonrpc": "2.0", "id": i, "method": method, "params": params}
            for i, (method, params) in zip(ids, calls, strict=True)
        ]
        body = await self._exchange(requests, None, json.loads)
        if not isinstance(body, list):
            error = body.get("error") if isinstance(body, dict) else None
            raise RpcError("batch", error or {"message": f"not a batch response: {body!r}"})
        by_id = {item.get("id"): item for item in body if isinstance(item, dict)}
        results = []
        for request_id, (method, _) in zip(ids, calls, strict=True):
            item = by_id.get(request_id)
            if item is None:
                raise RpcError(method, {"message": "batch response lacks this request"})
            if item.get("error") is not None:
                raise RpcError(method, item["error"])
            results.append(item.get("result"))
        return results

    async def _exchange(self, payload: object, attempts: int | None, answer: AnswerDecoder) -> Any:
        for attempt in itertools.count(1):
            endpoint, wait_s = self.pool.choose()
            if wait_s > 0:
                await asyncio.sleep(wait_s)
            try:
                body = await self._post(endpoint, payload, answer)
            except _Transient as failure:
                self.errors.labels(failure.kind).inc()
                heartbeat.waiting_for(self.dependency)
                rest_s = self.pool.failed(endpoint, failure.retry_after_s)
                log.warning(
                    "rpc request failed",
                    extra={
                        "url": endpoint.url,
                        "kind": failure.kind,
                        "detail": str(failure)[:300],
                        "url_rests_s": round(rest_s, 2),
                    },
                )
                if attempts is not None and attempt >= attempts:
                    raise RpcUnavailable(failure.kind, str(failure)) from failure
                continue
            self.pool.succeeded(endpoint)
            heartbeat.reached(self.dependency)
            return body
        raise AssertionError("unreachable: the loop only ends by returning or raising")

    async def _post(self, endpoint: Endpoint, payload: object, answer: AnswerDecoder) -> Any:
        data = json.dumps(payload, separators=(",", ":"))
        try:
            try:
                status, retry_after, raw = await self._send(endpoint.url, data)
            except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError):
                # Most often a kept-alive connection the server closed while idle (Node.js
                # closes them after 5 s): not a failure of the endpoint, so once more at once.
                status, retry_after, raw = await self._send(endpoint.url, data)
        except TimeoutError as exc:
            raise _Transient("timeout", f"no answer within {self.timeout.total}s") from exc
        except aiohttp.ClientError as exc:
            raise _Transient("connection", f"{type(exc).__name__}: {exc}") from exc
        if status == 429:
            raise _Transient("rate_limited", "HTTP 429", parse_retry_after(retry_after))
        try:
            body = answer(raw)
        except ValueError as exc:
            raise _Transient("invalid_response", f"HTTP {status}: {raw[:200]!r}") from exc
        if isinstance(body, dict) and _is_rate_limit(body.get("error")):
            raise _Transient("rate_limited", str(body["error"]), parse_retry_after(retry_after))
        if isinstance(body, list) and any(
            isinstance(item, dict) and _is_rate_limit(item.get("error")) for item in body
        ):
            raise _Transient("rate_limited", "rate limited inside a batch")
        if status >= 400 and not (isinstance(body, dict) and body.get("error") is not None):
            raise _Transient("http_error", f"HTTP {status}: {raw[:200]!r}")
        return body

    async def _send(self, url: str, data: str) -> tuple[int, str | None, bytes]:
        headers = {"Content-Type": "application/json"}
        async with self.session.post(url, data=data, headers=headers) as response:
            return response.status, response.headers.get("Retry-After"), await response.read()
