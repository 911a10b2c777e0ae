"""The verifier's Bitcoin from an Esplora HTTP API instead of a node's JSON-RPC: confirmed
balances at a height from blocks alone, as `reserves_evidence.BitcoinReader` computes them
(`reservesync.bitcoin_blocks.balances_after`). The paths and fields relied on are in
`reservesync.esplora`.

A public server rate-limits: HTTP 429 (and 5xx, timeouts, refused connections) are retried
with exponential backoff, or after the Retry-After the server asks for, until `retry_for_s`
has passed since the request was first tried; then the verifier stops with the reason. The
hashes are checked: a block must be at the height asked and name its parent at the height
below, so a server cannot hand over blocks of different chains.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from typing import Any, ParamSpec, TypeVar

from reservesync import esplora
from reservesync.bitcoin_blocks import Transaction, balances_after
from reservesync.jsonrpc.failover import MAX_DELAY_S, Endpoint, parse_retry_after
from reservesync.reserves_evidence import EvidenceError

RETRY_FOR_S = 300.0
Args = ParamSpec("Args")
Parsed = TypeVar("Parsed")


class EsploraReader:
    def __init__(self, base_url: str, *, retry_for_s: float = RETRY_FOR_S) -> None:
        self.base_url = base_url.rstrip("/")
        self.retry_for_s = retry_for_s

    def tip(self) -> int:
        return self._parsed(esplora.parse_height, self._get(esplora.tip_height_path()))

    def balances(
        self, scripts: Mapping[bytes, str], height: int, *, from_height: int = 0
    ) -> dict[str, int]:
        """Confirmed sats of each address (`scripts`: scriptPubKey -> address) at `height`."""
        tip = self.tip()
        if height > tip:
            raise EvidenceError(f"the Esplora server has no block {height} yet (tip {tip})")
        return balances_after(self._blocks(from_height, height), scripts)

    def _blocks(self, first: int, last: int) -> Iterator[list[Transaction]]:
        parent: str | None = None
        for height in range(first, last + 1):
            asked = self._parsed(
                esplora.parse_hash, self._get(esplora.hash_at_path(height)), f"block {height}"
            )
            header = self._parsed(esplora.parse_block, self._json(esplora.block_path(asked)), asked)
            if header.height != height or header.hash != asked:
                raise EvidenceError(f"the Esplora server's block {asked} is not at {height}")
            if parent is not None and header.parent_hash != parent:
                raise EvidenceError(
                    f"block {asked} at {height} names parent {header.parent_hash}, not {parent}: "
                    "the server's chain changed while it was read; run it again"
                )
            parent = header.hash
            yield [
                tx
                for start in esplora.page_starts(header.tx_count)
                for tx in self._parsed(
                    esplora.parse_page, self._json(esplora.page_path(asked, start)), header, start
                )
            ]

    @staticmethod
    def _parsed(parse: Callable[Args, Parsed], *args: Args.args, **kwargs: Args.kwargs) -> Parsed:
        try:
            return parse(*args, **kwargs)
        except esplora.EsploraAnswerError as exc:
            raise EvidenceError(f"the Esplora server answered nonsense: {exc}") from exc

    def _json(self, path: str) -> Any:
        text = self._get(path)
        try:
            return json.loads(text)
        except ValueError as exc:
            raise EvidenceError(f"GET {path}: not JSON: {text[:100]!r}") from exc

    def _get(self, path: str) -> str:
        url = self.base_url + path
        deadline = time.monotonic() + self.retry_for_s
        backoff = Endpoint(url)
        while True:
            try:
                with urllib.request.urlopen(url, timeout=30) as answer:  # noqa: S310 (a setting)
                    return str(answer.read().decode())
            except urllib.error.HTTPError as refused:
                if refused.code != 429 and refused.code < 500:
                    raise EvidenceError(f"GET {url}: HTTP {refused.code}") from refused
                failure: Exception = refused
                asked = parse_retry_after(refused.headers.get("Retry-After"))
            except OSError as down:
                failure, asked = down, None
            backoff.failures += 1
            pause = min(asked if asked is not None else backoff.backoff_s(), MAX_DELAY_S)
            if time.monotonic() + pause > deadline:
                raise EvidenceError(
                    f"GET {url}: {failure}, still after {self.retry_for_s:g}s of retries"
                ) from failure
            time.sleep(pause)
