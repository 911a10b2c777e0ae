"""Bitcoin addresses and the output scripts (scriptPubKey) they stand for: P2PKH, P2SH (base58
check), P2WPKH, P2WSH (bech32) and P2TR (bech32m), on mainnet, testnet, signet and regtest.

An output belongs to an address exactly when its scriptPubKey is the address's script, so a
watcher compares scripts, never address strings (bech32 is case-insensitive, and one script
has one address per network). Anything else (other witness versions, bare scripts, a bad
checksum, an address of another network) is refused with a `BadBitcoinAddress` that says why.
The checksums (base58check, bech32/bech32m) come from `embit`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from embit import base58, bech32

from reservesync.messages.oracle import Network


class BadBitcoinAddress(ValueError):
    """An address that is not one of the five standard kinds on the expected network."""


class AddressKind(StrEnum):
    P2PKH = "p2pkh"
    P2SH = "p2sh"
    P2WPKH = "p2wpkh"
    P2WSH = "p2wsh"
    P2TR = "p2tr"


_TEST_NETWORKS = frozenset({Network.TESTNET, Network.SIGNET, Network.REGTEST})
# Base58 version bytes; testnet, signet and regtest share theirs.
_BASE58: dict[int, tuple[AddressKind, frozenset[Network]]] = {
    0x00: (AddressKind.P2PKH, frozenset({Network.MAINNET})),
    0x05: (AddressKind.P2SH, frozenset({Network.MAINNET})),
    0x6F: (AddressKind.P2PKH, _TEST_NETWORKS),
    0xC4: (AddressKind.P2SH, _TEST_NETWORKS),
}
_VERSION_BYTE = {
    (AddressKind.P2PKH, True): 0x00,
    (AddressKind.P2SH, True): 0x05,
    (AddressKind.P2PKH, False): 0x6F,
    (AddressKind.P2SH, False): 0xC4,
}
_HRP: dict[str, frozenset[Network]] = {
    "bc": frozenset({Network.MAINNET}),
    "tb": frozenset({Network.TESTNET, Network.SIGNET}),
    "bcrt": frozenset({Network.REGTEST}),
}
_HRP_OF = {
    Network.MAINNET: "bc",
    Network.TESTNET: "tb",
    Network.SIGNET: "tb",
    Network.REGTEST: "bcrt",
}
OP_DUP, OP_HASH160, OP_EQUALVERIFY, OP_CHECKSIG, OP_EQUAL, OP_1 = (
    0x76,
    0xA9,
    0x88,
    0xAC,
    0x87,
    0x51,
)


@dataclass(frozen=True)
class DecodedAddress:
    address: str
    kind: AddressKind
    networks: frozenset[Network]
    """The networks the address is valid on."""
    script: bytes
    """The scriptPubKey of outputs paying it."""


def decode(address: str) -> DecodedAddress:
    """The kind, networks and script of `address`; `BadBitcoinAddress` says why not."""
    text = address.strip()
    if not text or len(text) > 90:
        raise BadBitcoinAddress(f"{address!r}: not a Bitcoin address (length {len(text)})")
    hrp = text[: text.rfind("1")].lower() if "1" in text else ""
    if hrp in _HRP:
        return _decode_segwit(text, hrp)
    return _decode_base58(text)


def script_for(address: str, network: Network) -> bytes:
    """The scriptPubKey of `address`, which must be valid on `network`."""
    decoded = decode(address)
    if network not in decoded.networks:
        valid = ", ".join(sorted(n.value for n in decoded.networks))
        raise BadBitcoinAddress(
            f"{address!r} is a {decoded.kind.value} address of {valid}, not of {network.value}"
        )
    return decoded.script


def address_of(script: bytes, network: Network) -> str | None:
    """The address an output script pays on `network`, None for other scripts."""
    kind, payload = _classify(script)
    if kind is None:
        return None
    if kind in (AddressKind.P2PKH, AddressKind.P2SH):
        version = _VERSION_BYTE[(kind, network is Network.MAINNET)]
        return str(base58.encode_check(bytes([version]) + payload))
    witness_version = 1 if kind is AddressKind.P2TR else 0
    encoded = bech32.encode(_HRP_OF[network], witness_version, list(payload))
    return str(encoded) if encoded is not None else None


def _classify(script: bytes) -> tuple[AddressKind | None, bytes]:
    size = len(script)
    if (
        size == 25
        and script[:3] == bytes([OP_DUP, OP_HASH160, 20])
        and script[23:] == bytes([OP_EQUALVERIFY, OP_CHECKSIG])
    ):
        return AddressKind.P2PKH, script[3:23]
    if size == 23 and script[:2] == bytes([OP_HASH160, 20]) and script[22] == OP_EQUAL:
        return AddressKind.P2SH, script[2:22]
    if size == 22 and script[:2] == bytes([0, 20]):
        return AddressKind.P2WPKH, script[2:]
    if size == 34 and script[:2] == bytes([0, 32]):
        return AddressKind.P2WSH, script[2:]
    if size == 34 and script[:2] == bytes([OP_1, 32]):
        return AddressKind.P2TR, script[2:]
    return None, b""


def _decode_segwit(text: str, hrp: str) -> DecodedAddress:
    version, program = bech32.decode(hrp, text)
    if version is None or program is None:
        raise BadBitcoinAddress(
            f"{text!r}: not a valid bech32/bech32m address (checksum, characters or length)"
        )
    data = bytes(program)
    if version == 0:
        kind = AddressKind.P2WPKH if len(data) == 20 else AddressKind.P2WSH
        script = bytes([0, len(data)]) + data
    elif version == 1 and len(data) == 32:
        kind, script = AddressKind.P2TR, bytes([OP_1, 32]) + data
    else:
        raise BadBitcoinAddress(
            f"{text!r}: witness version {version} with a {len(data)}-byte program is not a "
            "supported address kind (P2WPKH, P2WSH or P2TR)"
        )
    return DecodedAddress(text.lower(), kind, _HRP[hrp], script)


def _decode_base58(text: str) -> DecodedAddress:
    try:
        payload = base58.decode_check(text)
    except (ValueError, KeyError, IndexError) as exc:
        raise BadBitcoinAddress(f"{text!r}: not a valid base58check address ({exc})") from exc
    if len(payload) != 21 or payload[0] not in _BASE58:
        raise BadBitcoinAddress(
            f"{text!r}: base58 payload of {len(payload)} bytes with version "
            f"{payload[0] if payload else None} is not a P2PKH or P2SH address"
        )
    kind, networks = _BASE58[payload[0]]
    digest = payload[1:]
    if kind is AddressKind.P2PKH:
        script = bytes([OP_DUP, OP_HASH160, 20]) + digest + bytes([OP_EQUALVERIFY, OP_CHECKSIG])
    else:
        script = bytes([OP_HASH160, 20]) + digest + bytes([OP_EQUAL])
    return DecodedAddress(text, kind, networks, script)
