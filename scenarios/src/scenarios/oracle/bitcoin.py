"""Bitcoin balances over a mempool.space-compatible API, and a fake node that serves one.

The oracle reads `GET /api/address/{address}` (confirmed balance = chain_stats.funded_txo_sum
- chain_stats.spent_txo_sum) and `GET /api/blocks/tip/height`, as it would from mempool.space.
The fake node is what tests and the demo control: `set_balance` moves an address's balance
(recorded as funding or spending, so the stats stay monotonic like a real chain's).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import httpx
from aiohttp import web

from scenarios.oracle.local_server import LocalServer

_ADDRESS_CHARS = frozenset("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


@dataclass
class _AddressStats:
    funded: int = 0
    spent: int = 0
    funded_count: int = 0
    spent_count: int = 0

    def as_json(self) -> dict[str, int]:
        return {
            "funded_txo_count": self.funded_count,
            "funded_txo_sum": self.funded,
            "spent_txo_count": self.spent_count,
            "spent_txo_sum": self.spent,
            "tx_count": self.funded_count + self.spent_count,
        }


class FakeBitcoinNode(LocalServer):
    def __init__(self, tip_height: int = 850_000) -> None:
        self._stats: dict[str, _AddressStats] = {}
        self.tip_height = tip_height
        app = web.Application()
        app.router.add_get("/api/address/{address}", self._address)
        app.router.add_get("/api/blocks/tip/height", self._tip)
        super().__init__(app)

    def set_balance(self, address: str, sats: int) -> None:
        """A new confirmed balance, in a new block."""
        if sats < 0:
            raise ValueError("a balance cannot be negative")
        stats = self._stats.setdefault(address, _AddressStats())
        change = sats - (stats.funded - stats.spent)
        if change > 0:
            stats.funded += change
            stats.funded_count += 1
        elif change < 0:
            stats.spent -= change
            stats.spent_count += 1
        self.tip_height += 1

    async def _address(self, request: web.Request) -> web.Response:
        address = request.match_info["address"]
        if not 14 <= len(address) <= 90 or not set(address) <= _ADDRESS_CHARS:
            return web.Response(status=400, text="Invalid Bitcoin address")
        stats = self._stats.get(address, _AddressStats())
        empty = _AddressStats().as_json()
        return web.json_response(
            {"address": address, "chain_stats": stats.as_json(), "mempool_stats": empty}
        )

    async def _tip(self, _request: web.Request) -> web.Response:
        return web.Response(text=str(self.tip_height))


class BalanceSourceError(Exception):
    """The balance source did not answer usably after retries."""


class MempoolClient:
    """Reads confirmed balances; retries transient failures (mempool.space rate-limits)."""

    def __init__(self, base_url: str, *, attempts: int = 4, timeout_s: float = 10.0) -> None:
        self._http = httpx.AsyncClient(base_url=base_url, timeout=timeout_s)
        self._attempts = attempts

    async def balance(self, address: str) -> int:
        document = await self._get_json(f"/api/address/{address}")
        stats = document["chain_stats"]
        return int(stats["funded_txo_sum"]) - int(stats["spent_txo_sum"])

    async def tip_height(self) -> int:
        return int(await self._get_json("/api/blocks/tip/height"))

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _get_json(self, path: str) -> Any:
        problem = ""
        for attempt in range(self._attempts):
            try:
                response = await self._http.get(path)
                if response.status_code in (429, 502, 503, 504):
                    problem = f"HTTP {response.status_code}"
                else:
                    response.raise_for_status()
                    return response.json()
            except httpx.TransportError as exc:
                problem = repr(exc)
            await asyncio.sleep(0.2 * 2**attempt)
        raise BalanceSourceError(f"{path}: {problem}")
