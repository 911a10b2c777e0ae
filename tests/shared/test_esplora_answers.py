"""Esplora answers that are not what the API documents are refused with a clear error, never
half read; the verifier takes exactly one Bitcoin source."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError
from reservesync import esplora
from reservesync.esplora import EsploraAnswerError
from reservesync.verify_reserves import Settings

HASH = "ab" * 32
PARENT = "cd" * 32
HEADER = {
    "id": HASH,
    "height": 7,
    "timestamp": 1_700_000_000,
    "tx_count": 2,
    "previousblockhash": PARENT,
}
COINBASE = {
    "txid": "11" * 32,
    "vin": [{"is_coinbase": True}],
    "vout": [{"scriptpubkey": "0014" + "22" * 20, "value": 5_000_000_000}],
}
PAYMENT = {
    "txid": "33" * 32,
    "vin": [{"is_coinbase": False, "txid": "11" * 32, "vout": 0}],
    "vout": [{"scriptpubkey": "", "value": 0}, {"scriptpubkey": "51", "value": 7}],
}


def test_a_documented_block_and_page_are_read() -> None:
    block = esplora.parse_block(HEADER, HASH)
    assert (block.hash, block.height, block.parent_hash, block.tx_count) == (HASH, 7, PARENT, 2)
    assert block.time == datetime.fromtimestamp(1_700_000_000, UTC)
    coinbase, payment = esplora.parse_page([COINBASE, PAYMENT], block, 0)
    assert coinbase.spends == ()
    assert coinbase.outputs[0].sats == 5_000_000_000
    assert payment.spends == (f"{'11' * 32}:0",)
    assert [(o.outpoint, o.sats, o.script) for o in payment.outputs] == [
        (f"{'33' * 32}:0", 0, b""),
        (f"{'33' * 32}:1", 7, b"\x51"),
    ]
    assert list(esplora.page_starts(51)) == [0, 25, 50]
    assert esplora.parse_height("812345\n") == 812_345
    assert esplora.parse_status({"in_best_chain": False}, HASH) is False


@pytest.mark.parametrize(
    ("answer", "says"),
    [
        ({**HEADER, "id": "zz"}, "id: expected hex"),
        ({**HEADER, "height": -1}, "height: expected a whole number"),
        ({**HEADER, "tx_count": "2"}, "tx_count"),
        ({**HEADER, "previousblockhash": "ab"}, "parent"),
        (["not", "an", "object"], "expected an object"),
    ],
)
def test_a_bad_block_header_is_refused(answer: object, says: str) -> None:
    with pytest.raises(EsploraAnswerError, match=says):
        esplora.parse_block(answer, HASH)


@pytest.mark.parametrize(
    ("page", "says"),
    [
        ([COINBASE], "expected 2 transactions, got 1"),
        ({"txs": []}, "expected 2 transactions, got dict"),
        ([COINBASE, {**PAYMENT, "vin": [{"txid": "11" * 32, "vout": 0}]}], "no is_coinbase"),
        ([COINBASE, {**PAYMENT, "vout": [{"scriptpubkey": "51", "value": 0.5}]}], "value"),
        ([COINBASE, {**PAYMENT, "vout": [{"scriptpubkey": "5", "value": 1}]}], "script"),
        ([COINBASE, {**PAYMENT, "txid": "33"}], "txid: expected hex"),
    ],
)
def test_a_bad_page_is_refused(page: object, says: str) -> None:
    block = esplora.parse_block(HEADER, HASH)
    with pytest.raises(EsploraAnswerError, match=says):
        esplora.parse_page(page, block, 0)


def test_a_bad_height_or_hash_is_refused() -> None:
    with pytest.raises(EsploraAnswerError, match="tip height"):
        esplora.parse_height("<html>rate limited</html>")
    with pytest.raises(EsploraAnswerError, match="block at 5"):
        esplora.parse_hash("Block not found", "block at 5")
    with pytest.raises(EsploraAnswerError, match="in_best_chain"):
        esplora.parse_status({"in_best_chain": "yes"}, HASH)


def test_the_verifier_takes_exactly_one_bitcoin_source() -> None:
    common = {"api_url": "http://a", "evm_rpc_url": "http://e", "aggregator": "0x" + "1" * 40}
    with pytest.raises(ValidationError, match="exactly one Bitcoin source"):
        Settings.model_validate(common)
    with pytest.raises(ValidationError, match="exactly one Bitcoin source"):
        Settings.model_validate(
            {**common, "bitcoin_rpc_url": "http://n", "bitcoin_esplora_url": "http://x/api"}
        )
    chosen = Settings.model_validate({**common, "bitcoin_esplora_url": "http://x/api"})
    assert type(chosen.bitcoin_reader()).__name__ == "EsploraReader"
