"""Public data a proof-of-reserves leaf is re-derived from, read straight from both chains:
token balances and synced sats from an EVM node at block B, confirmed BTC from a Bitcoin node
at height H. Independent of the services that produced the proof (the API, the listeners): only
standard JSON-RPC methods (`eth_call`; `getblockhash`, `getblock` at verbosity 2, which Bitcoin
Core and btcd both answer), so a third party's own nodes give the same answer. An Esplora HTTP
API can stand in for the Bitcoin node: `reservesync.esplora_reader`.
"""

from __future__ import annotations

import base64
import json
import urllib.request
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from eth_abi.abi import decode as abi_decode
from eth_abi.abi import encode as abi_encode
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from reservesync.bitcoin_blocks import Transaction, balances_after, rpc_transaction


class EvidenceError(Exception):
    """A node could not be asked or answered nonsense; the message says which and why."""


def rpc(url: str, method: str, params: list[Any], *, auth: tuple[str, str] | None = None) -> Any:
    """One JSON-RPC call; an error or a transport failure is an `EvidenceError`."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode()
    request = urllib.request.Request(  # noqa: S310 (the URL is the operator's own setting)
        url, data=body, headers={"Content-Type": "application/json"}
    )
    if auth is not None:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
            reply = json.loads(answer.read())
    except OSError as exc:
        raise EvidenceError(f"{method} at {url}: {exc}") from exc
    except ValueError as exc:
        raise EvidenceError(f"{method} at {url}: not JSON ({exc})") from exc
    if not isinstance(reply, dict) or reply.get("error") is not None:
        error = reply.get("error") if isinstance(reply, dict) else reply
        raise EvidenceError(f"{method} at {url} failed: {error}")
    return reply.get("result")


@dataclass(frozen=True)
class TokenContracts:
    aggregator: str
    synth: str
    """RBTCSynth (rBTC)."""
    vault: str
    """VaultWrBTC (wrBTC), whose own rBTC backs the wrBTC and counts 0 in its leaf."""


class EvmReader:
    """`eth_call`s at one block: what the token and the oracle aggregator say there."""

    def __init__(self, url: str, block: int) -> None:
        self.url = url
        self.block = block

    def _uint(self, contract: str, signature: str, *args: str) -> int:
        data = keccak(text=signature)[:4] + abi_encode(["address"] * len(args), list(args))
        result = rpc(
            self.url, "eth_call", [{"to": contract, "data": "0x" + data.hex()}, hex(self.block)]
        )
        try:
            (value,) = abi_decode(["uint256"], bytes.fromhex(str(result)[2:]))
        except Exception as exc:
            raise EvidenceError(
                f"{signature} on {contract} at block {self.block} answered {result!r:.80}"
            ) from exc
        return int(value)

    def _address(self, contract: str, signature: str) -> str:
        return to_checksum_address(self._uint(contract, signature).to_bytes(32, "big")[12:])

    def contracts(self, aggregator: str) -> TokenContracts:
        aggregator = to_checksum_address(aggregator)
        return TokenContracts(
            aggregator=aggregator,
            synth=self._address(aggregator, "synth()"),
            vault=self._address(aggregator, "wrapVault()"),
        )

    def holding(self, contracts: TokenContracts, holder: str) -> tuple[int, int, int]:
        """rBTC held (0 for the vault), wrBTC held, sats the oracle last synced."""
        holder = to_checksum_address(holder)
        rbtc = (
            0
            if holder == contracts.vault
            else self._uint(contracts.synth, "balanceOf(address)", holder)
        )
        wrbtc = self._uint(contracts.vault, "balanceOf(address)", holder)
        synced = self._uint(contracts.aggregator, "lastSyncedSats(address)", holder)
        return rbtc, wrbtc, synced

    def supply(self, contracts: TokenContracts) -> tuple[int, int]:
        """rBTC and wrBTC totalSupply."""
        return (
            self._uint(contracts.synth, "totalSupply()"),
            self._uint(contracts.vault, "totalSupply()"),
        )


class BitcoinReader:
    """Confirmed balances at a height, from blocks alone (no address index): every output paying
    a watched script from `from_height` on, less those spent by `height`."""

    def __init__(self, url: str, *, auth: tuple[str, str] | None = None) -> None:
        self.url = url
        self.auth = auth

    def _call(self, method: str, *params: Any) -> Any:
        return rpc(self.url, method, list(params), auth=self.auth)

    def tip(self) -> int:
        return int(self._call("getblockcount"))

    def balances(
        self, scripts: Mapping[bytes, str], height: int, *, from_height: int = 0
    ) -> dict[str, int]:
        """Confirmed sats of each address (`scripts`: scriptPubKey -> address) at `height`."""
        if height > self.tip():
            raise EvidenceError(f"the Bitcoin node has no block {height} yet (tip {self.tip()})")
        return balances_after(self._blocks(from_height, height), scripts)

    def _blocks(self, first: int, last: int) -> Iterator[list[Transaction]]:
        for at in range(first, last + 1):
            block = self._call("getblock", self._call("getblockhash", at), 2)
            try:
                yield [rpc_transaction(tx) for tx in _transactions(block, at)]
            except (KeyError, TypeError, ValueError) as exc:
                raise EvidenceError(f"block {at} unreadable: {exc!r}") from exc


def _transactions(block: object, height: int) -> Iterable[dict[str, Any]]:
    if not isinstance(block, dict) or int(block.get("height", -1)) != height:
        raise EvidenceError(f"getblock at height {height} answered {block!r:.80}")
    transactions = block.get("tx") or block.get("rawtx") or []
    if any(not isinstance(tx, dict) for tx in transactions):
        raise EvidenceError("getblock answered without transaction details (verbosity 2)")
    return transactions
