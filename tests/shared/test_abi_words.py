"""The word-by-word decoder agrees with eth_abi's strict decoders on every word: the same
values, and a refusal wherever eth_abi refuses (padding, range, a bool above 1)."""

from __future__ import annotations

from typing import Any

import pytest
from eth_abi.abi import decode as abi_decode
from eth_abi.abi import encode as abi_encode
from hypothesis import given
from hypothesis import strategies as st
from reservesync.abi_decoders import as_carried, hex_decoder, words_pattern

ONE_WORD_TYPES = [
    "address",
    "bool",
    "uint8",
    "uint32",
    "uint64",
    "uint256",
    "int8",
    "int64",
    "int256",
    "bytes1",
    "bytes4",
    "bytes32",
]


def edge_words() -> st.SearchStrategy[bytes]:
    """32-byte words near the boundaries that padding and range checks draw."""
    boundaries = [0, 1, 2, 2**7, 2**8, 2**31, 2**32, 2**63, 2**64, 2**160, 2**255]
    near = st.sampled_from(boundaries).flatmap(
        lambda edge: st.integers(max(edge - 2, 0), min(edge + 1, 2**256 - 1))
    )
    negative = near.map(lambda value: (2**256 - value) % 2**256)
    numbers = st.one_of(near, negative, st.integers(0, 2**256 - 1))
    any_word = st.binary(min_size=32, max_size=32)
    return st.one_of(numbers.map(lambda n: n.to_bytes(32, "big")), any_word)


def eth_abi_value(kind: str, word: bytes) -> Any:
    try:
        (raw,) = abi_decode([kind], word, strict=True)
    except Exception:
        return "refused"
    return as_carried(kind, raw)


def our_value(kind: str, word: bytes, *, upper: bool = False) -> Any:
    text = word.hex().upper() if upper else word.hex()
    try:
        (value,) = hex_decoder([kind])(text)
    except ValueError:
        return "refused"
    return value


@pytest.mark.parametrize("kind", ONE_WORD_TYPES)
@given(word=edge_words(), upper=st.booleans())
def test_every_word_reads_as_eth_abi_reads_it(kind: str, word: bytes, upper: bool) -> None:
    assert our_value(kind, word, upper=upper) == eth_abi_value(kind, word)


@pytest.mark.parametrize(
    "words",
    ["", "00" * 31, "zz" + "00" * 31, "+1".rjust(64, "0"), "0_1".rjust(64, "0"), "0" * 65],
    ids=["empty", "short", "not-hex", "plus-sign", "underscore", "odd-length"],
)
def test_data_that_is_not_whole_hex_words_is_refused(words: str) -> None:
    with pytest.raises(ValueError, match=r"needed|not hex"):
        hex_decoder(["uint256"])(words)


def test_a_string_goes_through_eth_abi() -> None:
    words = abi_encode(["uint8", "string", "address"], [7, "héllo", "0x" + "Ab" * 20]).hex()
    assert hex_decoder(["uint8", "string", "address"])(words) == ("7", "héllo", "0x" + "ab" * 20)


@pytest.mark.parametrize("kind", ONE_WORD_TYPES)
@given(word=edge_words(), upper=st.booleans())
def test_every_word_eth_abi_takes_is_read_in_one_match(kind: str, word: bytes, upper: bool) -> None:
    """The pattern is the fast path: a word it missed would still read right, word by word,
    only slower."""
    pattern, converters = words_pattern([kind])
    text = word.hex().upper() if upper else word.hex()
    match = pattern.fullmatch(text)
    expected = eth_abi_value(kind, word)
    if expected == "refused":
        assert match is None
    else:
        assert match is not None
        (convert,) = converters
        assert convert(match[1]) == expected
