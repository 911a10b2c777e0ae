"""Decoders for the parameters of one event, built once per event rather than once per log:
the part of decoding that runs for every log of a backfill.

Events whose parameters are all one-word types (address, bool, intN, uintN, bytesN, and any
indexed parameter, whose topic is one word) are read straight from the hex words, with the
checks eth_abi's strict decoders make (zero padding, in-range values, a bool that is 0 or 1);
the rest (a string) go through eth_abi. Either way the values come out as `chain.event/v1`
carries them.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
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


def words_decoder(types: Sequence[str]) -> HexDecode | None:
    """The values of `types` read straight from their words, each checked as eth_abi's strict
    decoder checks it; None unless every type is one word."""
    words = _words(types)
    return None if words is None else partial(_read_words, words)


def hex_decoder(types: Sequence[str]) -> HexDecode:
    """The values of `types` from hex words: read word by word where every type is one word,
    else through eth_abi (a string's offset and length need its tuple decoder)."""
    by_words = words_decoder(types)
    if by_words is not None:
        return by_words
    whole: Callable[[Any], Any] = abi_registry.get_tuple_decoder(*types, strict=True)
    return lambda words: tuple(
        as_carried(kind, raw)
        for kind, raw in zip(types, whole(_stream(bytes.fromhex(words))), strict=True)
    )


def words_pattern(types: Sequence[str]) -> tuple[re.Pattern[str], list[Convert]]:
    """The pattern `words_decoder` matches the words of `types` against, each value a group,
    and how each group becomes the value as carried."""
    words = _words(types)
    if words is None:
        raise ValueError(f"not all of {list(types)} are one-word types")
    return words.pattern, [kind.convert for kind in words.kinds]


def _words(types: Sequence[str]) -> _Words | None:
    kinds = [_word_kind(kind) for kind in types]
    one_word = [kind for kind in kinds if kind is not None]
    return _Words(one_word) if len(one_word) == len(kinds) else None


Convert = Callable[[str], str | bool]


@dataclass(frozen=True)
class _WordKind:
    """One one-word type: the word as eth_abi's strict decoder takes it (the value a group),
    how the group becomes the value as carried, and why any other word is refused."""

    pattern: str
    convert: Convert
    refusal: str

    @functools.cached_property
    def compiled(self) -> re.Pattern[str]:
        return re.compile(self.pattern)


class _Words:
    """The words of one event's parameters, all of one-word types."""

    def __init__(self, kinds: list[_WordKind]) -> None:
        self.kinds = kinds
        # Trailing whole bytes are allowed, as eth_abi allows them.
        whole = "".join(kind.pattern for kind in kinds) + f"(?:{_HEX_DIGIT}{{2}})*"
        self.pattern = re.compile(whole)
        self.convert = _each([kind.convert for kind in kinds])
        """The pattern's groups → the values as carried."""


def _each(converts: list[Convert]) -> Callable[[Sequence[str]], tuple[str | bool, ...]]:
    """A function that applies `converts` to as many values, in order. Up to three, the calls
    are written out: a loop over the pairs cost half a microsecond more per log of a
    backfill, more than the conversions themselves."""
    match converts:
        case [first]:
            return lambda values: (first(values[0]),)
        case [first, second]:
            return lambda values: (first(values[0]), second(values[1]))
        case [first, second, third]:
            return lambda values: (first(values[0]), second(values[1]), third(values[2]))
        case _:
            return lambda values: tuple([c(v) for c, v in zip(converts, values, strict=True)])


def _read_words(words: _Words, text: str) -> tuple[str | bool, ...]:
    # One match checks every word's padding and range at once (a backfill's logs are all well
    # formed); reading word by word below says what is wrong with the rest.
    match = words.pattern.fullmatch(text)
    if match is not None:
        return words.convert(match.groups())
    if len(text) < WORD * len(words.kinds):
        raise ValueError(f"{len(text) // 2} bytes of data, {len(words.kinds)} words needed")
    # int() would also take "+", "_" and spaces; the words are hex digits only, as
    # bytes.fromhex demands of the eth_abi path.
    if len(text) % 2 or not _HEX.fullmatch(text):
        raise ValueError("not hex bytes")
    values = []
    for i, kind in enumerate(words.kinds):
        word = kind.compiled.fullmatch(text, WORD * i, WORD * (i + 1))
        if word is None:
            raise ValueError(kind.refusal)
        values.append(kind.convert(word[1]))
    return tuple(values)


_HEX = re.compile(r"[0-9a-fA-F]*")
_HEX_DIGIT = "[0-9a-fA-F]"
_INTEGER = re.compile(r"(u?)int(\d*)")
_FIXED_BYTES = re.compile(r"bytes(\d+)")


def _word_kind(kind: str) -> _WordKind | None:
    if kind == "address":
        return _WordKind(
            f"0{{24}}({_HEX_DIGIT}{{40}})", _hex_value, "padding bytes of an address are not zero"
        )
    if kind == "bool":
        return _WordKind("0{63}([01])", _is_one, "a bool word holds neither 0 nor 1")
    if match := _INTEGER.fullmatch(kind):
        bits = int(match[2] or 256)
        digits = bits // 4
        if match[1]:
            return _WordKind(
                f"0{{{64 - digits}}}({_HEX_DIGIT}{{{digits}}})",
                _unsigned_value,
                f"padding bytes of a uint{bits} are not zero",
            )
        # The whole word, its padding the sign's extension: 0s before a digit below 8, fs
        # before one of 8 or more.
        sign = f"(?:0{{{64 - digits}}}[0-7]|[fF]{{{64 - digits}}}[89a-fA-F])"
        return _WordKind(
            f"({sign}{_HEX_DIGIT}{{{digits - 1}}})",
            _signed_value,
            f"padding bytes of an int{bits} do not extend its sign",
        )
    if match := _FIXED_BYTES.fullmatch(kind):
        size = int(match[1])
        return _WordKind(
            f"({_HEX_DIGIT}{{{2 * size}}})0{{{64 - 2 * size}}}",
            _hex_value,
            f"padding bytes of a bytes{size} are not zero",
        )
    return None


def _hex_value(digits: str) -> str:
    return "0x" + digits.lower()


def _is_one(digit: str) -> bool:
    return digit == "1"


def _unsigned_value(digits: str) -> str:
    return str(int(digits, 16))


def _signed_value(word: str) -> str:
    value = int(word, 16)
    return str(value - (1 << 256) if value >> 255 else value)


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
