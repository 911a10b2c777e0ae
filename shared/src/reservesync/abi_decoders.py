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
        word_by_word = partial(_read_words, [r for r in readers if r is not None])
        pattern, converters = words_pattern(types)
        return partial(_read_matched, pattern, converters, word_by_word)
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
    return tuple(
        [
            read(words[i : i + WORD])
            for i, read in zip(range(0, WORD * len(readers), WORD), readers, strict=True)
        ]
    )


def _read_matched(
    pattern: re.Pattern[str],
    converters: list[Callable[[str], str | bool]],
    word_by_word: HexDecode,
    words: str,
) -> tuple[str | bool, ...]:
    """One match checks every word's padding and range at once (a backfill's logs are all
    well formed); the word-by-word reading says what is wrong with the rest."""
    match = pattern.fullmatch(words)
    if match is None:
        return word_by_word(words)
    return tuple(
        [convert(value) for convert, value in zip(converters, match.groups(), strict=True)]
    )


def words_pattern(
    types: Sequence[str],
) -> tuple[re.Pattern[str], list[Callable[[str], str | bool]]]:
    """A pattern of the words `types` take when every check passes, each value a group, and
    how each group becomes the value as carried. Trailing whole bytes are allowed, as the
    word-by-word reading allows them."""
    parts = [_word_pattern(kind) for kind in types]
    pattern = "".join(part for part, _ in parts) + f"(?:{_HEX_DIGIT}{{2}})*"
    return re.compile(pattern), [convert for _, convert in parts]


_HEX_DIGIT = "[0-9a-fA-F]"


def _word_pattern(kind: str) -> tuple[str, Callable[[str], str | bool]]:
    if kind == "address":
        return f"0{{24}}({_HEX_DIGIT}{{40}})", _hex_value
    if kind == "bool":
        return "0{63}([01])", _is_one
    if match := _INTEGER.fullmatch(kind):
        digits = int(match[2] or 256) // 4
        if match[1]:
            return f"0{{{64 - digits}}}({_HEX_DIGIT}{{{digits}}})", _unsigned_value
        # The whole word, its padding the sign's extension: 0s before a digit below 8, fs
        # before one of 8 or more.
        sign = f"(?:0{{{64 - digits}}}[0-7]|[fF]{{{64 - digits}}}[89a-fA-F])"
        return f"({sign}{_HEX_DIGIT}{{{digits - 1}}})", _signed_value
    if match := _FIXED_BYTES.fullmatch(kind):
        digits = 2 * int(match[1])
        return f"({_HEX_DIGIT}{{{digits}}})0{{{64 - digits}}}", _hex_value
    raise ValueError(f"{kind} is not read from one word")


def _hex_value(digits: str) -> str:
    return "0x" + digits.lower()


def _is_one(digit: str) -> bool:
    return digit == "1"


def _unsigned_value(digits: str) -> str:
    return str(int(digits, 16))


def _signed_value(word: str) -> str:
    value = int(word, 16)
    return str(value - (1 << 256) if value >> 255 else value)


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
