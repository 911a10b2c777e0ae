"""eth_abi decoders for the parameters of one event, built once per event rather than once per
log: the part of decoding that runs for every log of a backfill."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from eth_abi.decoding import AddressDecoder, ContextFramesBytesIO
from eth_abi.registry import registry as abi_registry
from eth_typing import HexAddress, HexStr

Decode = Callable[[bytes], tuple[Any, ...]]
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
