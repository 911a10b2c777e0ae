"""Field encryption at rest (AES-256-GCM) and keyed lookup hashes (HMAC-SHA256).

A ciphertext names the key that made it, so keys rotate without a flag day: the current key
encrypts, previous keys still decrypt, and `reencrypt` moves a value to the current key. The
row's identity is bound in as associated data, so a ciphertext copied into another row or
column does not decrypt.

Blob layout: version (1 byte) | key id length (1 byte) | key id | nonce (12 bytes) | ciphertext+tag
"""

from __future__ import annotations

import hashlib
import hmac
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from reservesync.settings import EncryptionSettings

VERSION = 1
NONCE_BYTES = 12
_LOOKUP_INFO = b"reservesync lookup v1"


class DecryptionError(ValueError):
    """The blob cannot be decrypted here: unknown key, wrong context, or tampered."""


def normalise_bitcoin_address(address: str) -> str:
    """Bech32 addresses are case-insensitive (lowercased); base58 ones are case-sensitive."""
    stripped = address.strip()
    if stripped.lower().startswith(("bc1", "tb1", "bcrt1")):
        return stripped.lower()
    return stripped


class FieldCipher:
    def __init__(self, key_id: str, keys: dict[str, bytes], lookup_key: bytes) -> None:
        if key_id not in keys:
            raise ValueError(f"the current key {key_id!r} is not among the keys")
        self.key_id = key_id
        self._keys = {kid: AESGCM(key) for kid, key in keys.items()}
        self._lookup_key = lookup_key

    @classmethod
    def from_settings(cls, settings: EncryptionSettings) -> FieldCipher:
        current = bytes.fromhex(settings.field_encryption_key.get_secret_value())
        keys = {
            kid: bytes.fromhex(key.get_secret_value())
            for kid, key in settings.field_encryption_previous_keys.items()
        }
        keys[settings.field_encryption_key_id] = current
        if settings.field_lookup_key is not None:
            lookup = bytes.fromhex(settings.field_lookup_key.get_secret_value())
        else:
            lookup = HKDF(hashes.SHA256(), 32, salt=None, info=_LOOKUP_INFO).derive(current)
        return cls(settings.field_encryption_key_id, keys, lookup)

    def encrypt(self, plaintext: str, *, context: str) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._keys[self.key_id].encrypt(nonce, plaintext.encode(), context.encode())
        kid = self.key_id.encode()
        return bytes([VERSION, len(kid)]) + kid + nonce + sealed

    def decrypt(self, blob: bytes, *, context: str) -> str:
        kid, nonce, sealed = _split(blob)
        key = self._keys.get(kid)
        if key is None:
            raise DecryptionError(f"no key {kid!r} configured (rotated out?)")
        try:
            return key.decrypt(nonce, sealed, context.encode()).decode()
        except InvalidTag as exc:
            raise DecryptionError("authentication failed: wrong context or tampered") from exc

    def reencrypt(self, blob: bytes, *, context: str) -> bytes:
        return self.encrypt(self.decrypt(blob, context=context), context=context)

    @staticmethod
    def key_id_of(blob: bytes) -> str:
        return _split(blob)[0]

    def lookup_hash(self, value: str, *, purpose: str) -> bytes:
        """Deterministic, so equal values can be found by equality; keyed, so the hashes of a
        leaked table cannot be matched against a list of known addresses."""
        message = purpose.encode() + b"\x00" + value.encode()
        return hmac.new(self._lookup_key, message, hashlib.sha256).digest()


def _split(blob: bytes) -> tuple[str, bytes, bytes]:
    if len(blob) < 2 or blob[0] != VERSION:
        raise DecryptionError("not a field ciphertext of a known version")
    kid_end = 2 + blob[1]
    if len(blob) < kid_end + NONCE_BYTES + 16:
        raise DecryptionError("truncated ciphertext")
    kid = blob[2:kid_end].decode(errors="replace")
    return kid, blob[kid_end : kid_end + NONCE_BYTES], blob[kid_end + NONCE_BYTES :]
