"""The Esplora HTTP API (Blockstream's electrs, mempool.space and compatible servers) as a
source of Bitcoin blocks: the paths asked and their answers, parsed and checked. Shared by the
bitcoin-listener (`bitcoin_listener.esplora_node`, async) and the verifier
(`reservesync.esplora_reader`, blocking); each brings its own HTTP.

The API: https://github.com/Blockstream/esplora/blob/master/API.md. What is relied on, and
nothing else:

- `GET /blocks/tip/height`: the best chain's height, as decimal text.
- `GET /block-height/:height`: the hash (64 hex digits, text) of the best chain's block at
  that height; 404 above the tip.
- `GET /block/:hash`: `id` (the hash), `height`, `timestamp` (Unix seconds), `tx_count`,
  `previousblockhash` (null for the genesis block).
- `GET /block/:hash/status`: `in_best_chain` (false for an orphaned block); 404 for a block
  the server does not know.
- `GET /block/:hash/txs/:start_index`: the block's transactions from `start_index` on, up to
  25 (`start_index` a multiple of 25), in block order. Of each: `txid`; `vin[]` with `txid`,
  `vout` and `is_coinbase`; `vout[]` with `scriptpubkey` (hex) and `value` (whole sats, a JSON
  integer: no BTC decimals to convert).

A block is read in pages of 25 transactions, `tx_count` of them in all, rather than one
`/tx/:txid` per transaction: the same data in 25 times fewer requests, which matters against a
public server's rate limit. Every answer is checked (types, hex lengths, a page of the size
`tx_count` implies); anything else is an `EsploraAnswerError` saying what was wrong.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from reservesync.bitcoin_blocks import Output, Transaction

PAGE_SIZE = 25
"""Transactions per `/block/:hash/txs/:start_index` page (fixed by the API)."""


class EsploraAnswerError(ValueError):
    """An answer that is not what the API documents; the message says what and where."""


@dataclass(frozen=True, slots=True)
class EsploraBlock:
    hash: str
    height: int
    parent_hash: str | None
    time: datetime
    tx_count: int


def tip_height_path() -> str:
    return "/blocks/tip/height"


def hash_at_path(height: int) -> str:
    return f"/block-height/{height}"


def block_path(block_hash: str) -> str:
    return f"/block/{block_hash}"


def status_path(block_hash: str) -> str:
    return f"/block/{block_hash}/status"


def page_path(block_hash: str, start: int) -> str:
    return f"/block/{block_hash}/txs/{start}"


def page_starts(tx_count: int) -> range:
    return range(0, tx_count, PAGE_SIZE)


def _hex(value: object, what: str, *, length: int | None = None) -> str:
    text = value.strip() if isinstance(value, str) else ""
    try:
        bytes.fromhex(text)
    except ValueError:
        text = ""
    if not text or (length is not None and len(text) != length):
        raise EsploraAnswerError(f"{what}: expected hex, got {value!r:.100}")
    return text.lower()


def _integer(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise EsploraAnswerError(f"{what}: expected a whole number >= 0, got {value!r:.100}")
    return value


def parse_height(text: str) -> int:
    """`/blocks/tip/height`."""
    if not text.strip().isdigit():
        raise EsploraAnswerError(f"tip height: expected a number, got {text!r:.100}")
    return int(text)


def parse_hash(text: str, what: str) -> str:
    """A block hash as text (`/block-height/:height`)."""
    return _hex(text, what, length=64)


def parse_block(raw: Any, asked: str) -> EsploraBlock:
    """`/block/:hash` of the block `asked`."""
    where = f"block {asked}"
    if not isinstance(raw, dict):
        raise EsploraAnswerError(f"{where}: expected an object, got {raw!r:.100}")
    parent = raw.get("previousblockhash")
    return EsploraBlock(
        hash=_hex(raw.get("id"), f"{where} id", length=64),
        height=_integer(raw.get("height"), f"{where} height"),
        parent_hash=None if parent is None else _hex(parent, f"{where} parent", length=64),
        time=datetime.fromtimestamp(_integer(raw.get("timestamp"), f"{where} time"), UTC),
        tx_count=_integer(raw.get("tx_count"), f"{where} tx_count"),
    )


def parse_status(raw: Any, asked: str) -> bool:
    """`/block/:hash/status`: whether the block is in the best chain."""
    best = raw.get("in_best_chain") if isinstance(raw, dict) else None
    if not isinstance(best, bool):
        raise EsploraAnswerError(f"status of block {asked}: no in_best_chain in {raw!r:.100}")
    return best


def parse_page(raw: Any, block: EsploraBlock, start: int) -> list[Transaction]:
    """One `/block/:hash/txs/:start_index` page, checked to be as long as `tx_count` says."""
    where = f"block {block.hash} transactions from {start}"
    expected = min(PAGE_SIZE, block.tx_count - start)
    if not isinstance(raw, list) or len(raw) != expected:
        size = len(raw) if isinstance(raw, list) else type(raw).__name__
        raise EsploraAnswerError(f"{where}: expected {expected} transactions, got {size}")
    return [_transaction(tx, f"{where}, #{start + i}") for i, tx in enumerate(raw)]


def _transaction(raw: Any, where: str) -> Transaction:
    if not isinstance(raw, dict):
        raise EsploraAnswerError(f"{where}: expected an object, got {raw!r:.100}")
    txid = _hex(raw.get("txid"), f"{where} txid", length=64)
    inputs, outputs = raw.get("vin"), raw.get("vout")
    if not isinstance(inputs, list) or not isinstance(outputs, list):
        raise EsploraAnswerError(f"{where} ({txid}): vin and vout must be lists")
    spends = []
    for n, spent in enumerate(inputs):
        if not isinstance(spent, dict) or not isinstance(spent.get("is_coinbase"), bool):
            raise EsploraAnswerError(f"{where} ({txid}) vin {n}: no is_coinbase")
        if not spent["is_coinbase"]:
            previous = _hex(spent.get("txid"), f"{where} ({txid}) vin {n} txid", length=64)
            spends.append(f"{previous}:{_integer(spent.get('vout'), f'{where} vin {n} vout')}")
    created = []
    for n, output in enumerate(outputs):
        if not isinstance(output, dict):
            raise EsploraAnswerError(f"{where} ({txid}) vout {n}: expected an object")
        script = output.get("scriptpubkey")
        created.append(
            Output(
                f"{txid}:{n}",
                _integer(output.get("value"), f"{where} ({txid}) vout {n} value"),
                # An empty script is a valid output (anyone can spend it): bytes of nothing.
                b"" if script == "" else bytes.fromhex(_hex(script, f"{where} vout {n} script")),
            )
        )
    return Transaction(tuple(spends), tuple(created))
