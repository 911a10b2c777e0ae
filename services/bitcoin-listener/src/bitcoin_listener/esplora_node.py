"""An Esplora HTTP API (Blockstream's electrs, mempool.space and compatible servers) as the
listener's Bitcoin source, in place of a node's JSON-RPC: the same `ChainSource` answers, so
the follower's confirmations, reorg handling and refusal of a source that lies are the same.
The paths and the JSON fields relied on are in `reservesync.esplora`.

What a retry can fix (no connection, a timeout, HTTP 429 or 5xx) is retried with jittered
backoff, or after exactly the Retry-After a rate-limited server asks for (at most
`MAX_RETRY_AFTER_S`), and the service waits for `bitcoin-esplora` meanwhile (`/readyz` 503). An
answer no retry changes (another 4xx, a body that is not what the API documents) is a
`NodeInconsistent`: nothing is published until the server makes sense again.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any, ParamSpec, TypeVar

import aiohttp
from reservesync import esplora
from reservesync.bitcoin_blocks import Transaction
from reservesync.heartbeat import heartbeat
from reservesync.jsonrpc.failover import EndpointPool, parse_retry_after

from bitcoin_listener import metrics
from bitcoin_listener.node import Block, NodeInconsistent, require_asked_block

log = logging.getLogger(__name__)
DEPENDENCY = "bitcoin-esplora"
MAX_RETRY_AFTER_S = 60.0
"""A server asking for a longer pause is asked again sooner: the listener's readiness says it
is waiting, and a long Retry-After is more often a misconfigured proxy than a real quota."""
PAGES_AT_ONCE = 4
Args = ParamSpec("Args")
Parsed = TypeVar("Parsed")


class _Transient(Exception):
    def __init__(self, kind: str, detail: str, retry_after_s: float | None = None) -> None:
        self.kind = kind
        self.retry_after_s = retry_after_s
        super().__init__(detail)


class EsploraNode:
    def __init__(self, base_url: str, *, timeout_s: float) -> None:
        self.base_url = base_url.rstrip("/")
        self.pool = EndpointPool([self.base_url])
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session: aiohttp.ClientSession | None = None
        self._pages = asyncio.Semaphore(PAGES_AT_ONCE)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def head(self) -> int:
        text = await self._get(esplora.tip_height_path(), "tip height")
        return self._parsed(esplora.parse_height, text or "")

    async def hash_at(self, height: int) -> str | None:
        text = await self._get(esplora.hash_at_path(height), f"block at {height}")
        if text is None:
            return None
        return self._parsed(esplora.parse_hash, text, f"block at {height}")

    async def block(self, height: int, block_hash: str) -> Block:
        header = await self._header(height, block_hash)
        tasks = [
            asyncio.ensure_future(self._page(header, start))
            for start in esplora.page_starts(header.tx_count)
        ]
        try:
            pages = await asyncio.gather(*tasks)
        except BaseException:
            # One page refused: the others stop too, instead of retrying in the background.
            # (Not a TaskGroup: its ExceptionGroup would hide the NodeInconsistent.)
            for task in tasks:
                task.cancel()
            raise
        return Block(
            height=header.height,
            hash=header.hash,
            parent_hash=header.parent_hash,
            time=header.time,
            transactions=tuple(tx for page in pages for tx in page),
        )

    async def header_time(self, height: int, block_hash: str) -> datetime:
        return (await self._header(height, block_hash)).time

    async def in_best_chain(self, block_hash: str) -> bool | None:
        raw = await self._get_json(esplora.status_path(block_hash), f"status of {block_hash}")
        if raw is None:
            return None
        return self._parsed(esplora.parse_status, raw, block_hash)

    async def _header(self, height: int, block_hash: str) -> esplora.EsploraBlock:
        raw = await self._get_json(esplora.block_path(block_hash), f"block {block_hash}")
        if raw is None:
            raise NodeInconsistent("unknown_block", f"the server does not know {block_hash}")
        header = self._parsed(esplora.parse_block, raw, block_hash)
        require_asked_block(header.height, header.hash, height, block_hash, "server")
        return header

    async def _page(self, header: esplora.EsploraBlock, start: int) -> list[Transaction]:
        async with self._pages:
            what = f"transactions of {header.hash} from {start}"
            raw = await self._get_json(esplora.page_path(header.hash, start), what)
        if raw is None:
            raise NodeInconsistent("unknown_block", f"the server has no {what}")
        return self._parsed(esplora.parse_page, raw, header, start)

    @staticmethod
    def _parsed(parse: Callable[Args, Parsed], *args: Args.args, **kwargs: Args.kwargs) -> Parsed:
        try:
            return parse(*args, **kwargs)
        except esplora.EsploraAnswerError as exc:
            raise NodeInconsistent("bad_answer", f"esplora answered nonsense: {exc}") from exc

    async def _get_json(self, path: str, what: str) -> Any:
        text = await self._get(path, what)
        if text is None:
            return None
        try:
            return json.loads(text)
        except ValueError as exc:
            raise NodeInconsistent(
                "bad_answer", f"esplora answered {what} with no JSON: {text[:100]!r}"
            ) from exc

    async def _get(self, path: str, what: str) -> str | None:
        """The body of a 200; None for a 404 (what was asked does not exist)."""
        while True:
            endpoint, wait_s = self.pool.choose()
            if wait_s > 0:
                await asyncio.sleep(wait_s)
            try:
                status, text = await self._send(path)
            except _Transient as failure:
                metrics.RPC_ERRORS.labels(failure.kind).inc()
                heartbeat.waiting_for(DEPENDENCY)
                rest_s = self.pool.failed(endpoint, failure.retry_after_s)
                log.warning(
                    "esplora request failed",
                    extra={
                        "path": path,
                        "kind": failure.kind,
                        "detail": str(failure)[:300],
                        "retry_in_s": round(rest_s, 2),
                    },
                )
                continue
            self.pool.succeeded(endpoint)
            heartbeat.reached(DEPENDENCY)
            if status == 404:
                return None
            if status != 200:
                raise NodeInconsistent(
                    "http_error", f"esplora answered {what} with HTTP {status}: {text[:200]!r}"
                )
            return text

    async def _send(self, path: str) -> tuple[int, str]:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self.timeout)
        try:
            async with self._session.get(self.base_url + path) as response:
                body = await response.text(errors="replace")
                if response.status == 429:
                    asked = parse_retry_after(response.headers.get("Retry-After"))
                    pause = None if asked is None else min(asked, MAX_RETRY_AFTER_S)
                    raise _Transient("rate_limited", f"HTTP 429: {body[:100]!r}", pause)
                if response.status >= 500:
                    raise _Transient("http_error", f"HTTP {response.status}: {body[:200]!r}")
                return response.status, body
        except TimeoutError as exc:
            raise _Transient("timeout", f"no answer within {self.timeout.total}s") from exc
        except aiohttp.ClientError as exc:
            raise _Transient("connection", f"{type(exc).__name__}: {exc}") from exc
