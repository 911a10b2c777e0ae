"""Whether a contract's code is on the chain (`eth_getCode`), asked once per cache period.

Registered is not enough for the contracts component: the registry says what the listener
saw when it registered; the chain says what is there now.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import urllib.request
from collections.abc import Iterable
from typing import Any

log = logging.getLogger(__name__)


class CodeChecker:
    def __init__(self, rpc_url: str, cache_s: float, timeout_s: float = 5.0) -> None:
        self.rpc_url = rpc_url
        self.cache_s = cache_s
        self.timeout_s = timeout_s
        self._known: dict[str, tuple[bool, float]] = {}

    async def has_code(self, addresses: Iterable[str]) -> dict[str, bool | None]:
        """Per address: whether code is there, or None when the chain could not be asked and
        nothing recent is known."""
        now = time.monotonic()
        wanted = sorted({a.lower() for a in addresses})
        stale = [a for a in wanted if a not in self._known or self._known[a][1] < now]
        if stale:
            try:
                found = await asyncio.to_thread(self._ask, stale)
            except (OSError, ValueError) as exc:
                log.warning("chain unreachable for eth_getCode", extra={"error": str(exc)})
            else:
                for address, present in found.items():
                    self._known[address] = (present, now + self.cache_s)
        return {a: self._known[a][0] if a in self._known else None for a in wanted}

    def _ask(self, addresses: list[str]) -> dict[str, bool]:
        batch = [
            {"jsonrpc": "2.0", "id": i, "method": "eth_getCode", "params": [a, "latest"]}
            for i, a in enumerate(addresses)
        ]
        request = urllib.request.Request(  # noqa: S310 - the configured chain's own URL
            self.rpc_url,
            data=json.dumps(batch).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=self.timeout_s) as response:  # noqa: S310
            answers: list[dict[str, Any]] = json.loads(response.read())
        found: dict[str, bool] = {}
        for answer in answers:
            code = answer.get("result")
            if not isinstance(code, str):
                raise ValueError(f"eth_getCode failed: {answer.get('error')}")
            found[addresses[int(answer["id"])]] = code not in ("0x", "0x0", "")
        return found
