"""Decoders for the parameters of one event, built once per event rather than once per log:
the part of decoding that runs for every log of a backfill.

Events whose parameters are all one-word types (address, bool, intN, uintN, bytesN, and any
indexed parameter, whose topic is one word) are read straight from the hex words, with the
checks eth_abi's strict decoders make (zero padding, in-range values, a bool that is 0 or 1);
the rest (a string) go through eth_abi. Either way the values come out as `chain.event/v1`
carries them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from eth_abi.decoding import ContextFramesBytesIO
from eth_abi.registry import registry as abi_registry

HexDecode = Callable[[str], tuple[str | bool, ...]]
"""Hex words (no 0x) → the parameters' values as `chain.event/v1` carries them."""
WORD = 64
"""Hex digits in one 32-byte ABI word."""
_stream: Callable[[bytes], Any] = ContextFramesBytesIO  # eth_abi's input type (untyped there)


def topic_type(kind: str) -> str:
    """What an indexed parameter's topic holds: the value of a one-word type, else the
    keccak hash of the value (strings, bytes, arrays)."""
    word = kind in ("address", "bool") or kind.startswith(("uint", "int", "bytes"))
    return kind if word and kind != "bytes" and "[" not in kind else "bytes32"


def is_one_word(kind: str) -> bool:
    """Whether `kind` is read straight from its word, not through eth_abi."""
    return _word_reader(kind) is not None


def hex_decoder(types: Sequence[str]) -> HexDecode:
    """The values of `types` from hex words: read word by word where every type is one word,
    else through eth_abi (a string's offset and length need its tuple decoder)."""
    readers = [_word_reader(kind) for kind in types]
    if all(reader is not None for reader in readers):
        return partial(_read_words, [r for r in readers if r is not None])
    whole: Callable[[Any], Any] = abi_registry.get_tuple_decoder(*types, strict=True)
    return lambda words: tuple(
        as_carried(kind, raw)
        for kind, raw in zip(types, whole(_stream(bytes.fromhex(words))), strict=True)
    )


def _read_words(readers: list[Callable[[str], str | bool]], words: str) -> tuple[str | bool, ...]:
    if len(words) < WORD * len(readers):
        raise ValueError(f"{len(words) // 2} bytes of data, {len(readers)} words needed")
    # int() would also take "+", "_" and spaces; the words are hex digits only, as
    # bytes.fromhex demands of the eth_abi path.
    if len(words) % 2 or not _HEX.fullmatch(words):
        raise ValueError("not hex bytes")
    return tuple(read(words[i * WORD : (i + 1) * WORD]) for i, read in enumerate(readers))


_HEX = re.compile(r"[0-9a-fA-F]*")
_INTEGER = re.compile(r"(u?)int(\d*)")
_FIXED_BYTES = re.compile(r"bytes(\d+)")


def _word_reader(kind: str) -> Callable[[str], str | bool] | None:
    if kind == "address":
        return _address
    if kind == "bool":
        return _bool
    if match := _INTEGER.fullmatch(kind):
        bits = int(match[2] or 256)
        return partial(_unsigned, bits) if match[1] else partial(_signed, bits)
    if match := _FIXED_BYTES.fullmatch(kind):
        return partial(_fixed_bytes, int(match[1]))
    return None


def _unsigned(bits: int, word: str) -> str:
    value = int(word, 16)
    if value >> bits:
        raise ValueError(f"padding bytes of a uint{bits} are not zero")
    return str(value)


def _signed(bits: int, word: str) -> str:
    value = int(word, 16)
    if value >> 255:
        value -= 1 << 256
    if not -(1 << (bits - 1)) <= value < 1 << (bits - 1):
        raise ValueError(f"padding bytes of an int{bits} do not extend its sign")
    return str(value)


def _address(word: str) -> str:
    if int(word, 16) >> 160:
        raise ValueError("padding bytes of an address are not zero")
    return "0x" + word[24:].lower()


def _bool(word: str) -> bool:
    value = int(word, 16)
    if value > 1:
        raise ValueError(f"a bool word holds {value}")
    return value == 1


def _fixed_bytes(size: int, word: str) -> str:
    if int(word, 16) & ((1 << (256 - 8 * size)) - 1):
        raise ValueError(f"padding bytes of a bytes{size} are not zero")
    return "0x" + word[: 2 * size].lower()


def as_carried(kind: str, raw: Any) -> str | bool:
    """An eth_abi value as `chain.event/v1` carries it."""
    if kind == "address":
        return str(raw).lower()
    if kind == "bool":
        return bool(raw)
    if kind.startswith(("uint", "int")):
        return str(int(raw))
    if isinstance(raw, bytes):
        return "0x" + raw.hex()
    return str(raw)
