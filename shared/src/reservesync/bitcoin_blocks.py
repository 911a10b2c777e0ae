"""Bitcoin transactions reduced to what a balance needs: the outpoints they spend and the
outputs they create. Shared by the bitcoin-listener and the verifier, whichever source the
blocks come from (a node's JSON-RPC or an Esplora HTTP API: `reservesync.esplora`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any


@dataclass(frozen=True, slots=True)
class Output:
    outpoint: str
    """`txid:n`"""
    sats: int
    script: bytes


@dataclass(frozen=True, slots=True)
class Transaction:
    spends: tuple[str, ...]
    """Outpoints (`txid:n`) this transaction's inputs spend; none for a coinbase."""
    outputs: tuple[Output, ...]


def sats_of(value: object) -> int:
    """Sats of a JSON-RPC amount (BTC as a JSON number). Every amount (at most 21e14 sats,
    below 2**53) is exact as a double, so its shortest decimal form times 1e8 is exact."""
    amount = Decimal(repr(value)) * 100_000_000
    if amount != amount.to_integral_value() or amount < 0:
        raise ValueError(f"not an amount of whole sats: {value!r}")
    return int(amount)


def rpc_transaction(raw: Mapping[str, Any]) -> Transaction:
    """A transaction of `getblock` at verbosity 2 (Bitcoin Core and btcd alike)."""
    spends = tuple(f"{i['txid']}:{int(i['vout'])}" for i in raw["vin"] if "coinbase" not in i)
    outputs = tuple(
        Output(
            f"{raw['txid']}:{int(o['n'])}",
            sats_of(o["value"]),
            bytes.fromhex(o["scriptPubKey"]["hex"]),
        )
        for o in raw["vout"]
    )
    return Transaction(spends, outputs)


def balances_after(
    blocks: Iterable[Iterable[Transaction]], scripts: Mapping[bytes, str]
) -> dict[str, int]:
    """Sats each address (`scripts`: scriptPubKey -> address) holds after `blocks`, applied
    in order: every output paying it, less those spent later on."""
    unspent: dict[str, tuple[str, int]] = {}
    for transactions in blocks:
        for tx in transactions:
            for outpoint in tx.spends:
                unspent.pop(outpoint, None)
            for output in tx.outputs:
                address = scripts.get(output.script)
                if address is not None:
                    unspent[output.outpoint] = (address, output.sats)
    held = dict.fromkeys(scripts.values(), 0)
    for address, sats in unspent.values():
        held[address] += sats
    return held
