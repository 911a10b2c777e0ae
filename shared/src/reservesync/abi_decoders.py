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

from eth_abi.decoding import AddressDecoder, ContextFramesBytesIO
from eth_abi.registry import registry as abi_registry
from eth_typing import HexAddress, HexStr

Decode = Callable[[bytes], tuple[Any, ...]]
HexDecode = Callable[[str], tuple[str | bool, ...]]
"""Hex words (no 0x) → the parameters' values as `chain.event/v1` carries them."""
WORD = 64
"""Hex digits in one 32-byte ABI word."""
_Stream = Callable[[bytes], Any]
_stream: _Stream = ContextFramesBytesIO  # eth_abi's input type (untyped there)


def _lowercase_hex(value: Any) -> HexAddress:
    return HexAddress(HexStr("0x" + bytes(value).hex()))


class _LowercaseAddressDecoder(AddressDecoder):
    """eth_abi's address decoder (it still checks the 12 padding bytes are zero), handing out
    lowercase hex directly: eth_utils' normalisation re-validates what are 20 raw bytes by
    construction and was the largest part of decoding a log."""

    decoder_fn = staticmethod(_lowercase_hex)


_ADDRESS_DECODER: Callable[[Any], Any] = _LowercaseAddressDecoder()  # type: ignore[no-untyped-call]


def _decoder_of(kind: str) -> Callable[[Any], Any]:
    if kind == "address":
        return _ADDRESS_DECODER
    return abi_registry.get_decoder(kind, strict=True)


def decoder(types: list[str]) -> Decode:
    """eth_abi's decoders for `types`, built once per event instead of once per log.

    Head words of static types hold no pointers, so they are decoded one after another;
    eth_abi's tuple decoder (which first walks every word to validate pointers) is used only
    where a dynamic type (a string) needs it.
    """
    decoders = [_decoder_of(kind) for kind in types]
    if any(getattr(d, "is_dynamic", False) for d in decoders):
        whole: Callable[[Any], Any] = abi_registry.get_tuple_decoder(*types, strict=True)
        return lambda data: tuple(whole(_stream(data)))

    def static(data: bytes) -> tuple[Any, ...]:
        stream = _stream(data)
        return tuple(decoder(stream) for decoder in decoders)

    return static


def topic_type(kind: str) -> str:
    """What an indexed parameter's topic holds: the value of a one-word type, else the
    keccak hash of the value (strings, bytes, arrays)."""
    word = kind in ("address", "bool") or kind.startswith(("uint", "int", "bytes"))
    return kind if word and kind != "bytes" and "[" not in kind else "bytes32"


def hex_decoder(types: Sequence[str]) -> HexDecode:
    """The values of `types` from hex words: read word by word where every type is one word,
    else through eth_abi (a string's offset and length need its tuple decoder)."""
    readers = [_word_reader(kind) for kind in types]
    if all(reader is not None for reader in readers):
        return partial(_read_words, [r for r in readers if r is not None])
    decode = decoder(list(types))
    return lambda words: tuple(
        as_carried(kind, raw) for kind, raw in zip(types, decode(bytes.fromhex(words)), strict=True)
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


def _number(word: str) -> int:
    return int(word, 16)


def _unsigned(bits: int, word: str) -> str:
    value = _number(word)
    if value >> bits:
        raise ValueError(f"padding bytes of a uint{bits} are not zero")
    return str(value)


def _signed(bits: int, word: str) -> str:
    value = _number(word)
    if value >> 255:
        value -= 1 << 256
    if not -(1 << (bits - 1)) <= value < 1 << (bits - 1):
        raise ValueError(f"padding bytes of an int{bits} do not extend its sign")
    return str(value)


def _address(word: str) -> str:
    if _number(word) >> 160:
        raise ValueError("padding bytes of an address are not zero")
    return "0x" + word[24:].lower()


def _bool(word: str) -> bool:
    value = _number(word)
    if value > 1:
        raise ValueError(f"a bool word holds {value}")
    return value == 1


def _fixed_bytes(size: int, word: str) -> str:
    if _number(word) & ((1 << (256 - 8 * size)) - 1):
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
