"""Field encryption at rest (AES-256-GCM) and keyed lookup hashes (HMAC-SHA256), SPEC section 5.

A ciphertext names the key that made it, so keys rotate without a flag day: the current key
encrypts, previous keys still decrypt, and `reencrypt` moves a value to the current key. The
row's identity is bound in as associated data, so a ciphertext copied into another row or
column does not decrypt. Lookups cannot use the ciphertexts (fresh nonces make them differ for
equal values), so each field also stores an HMAC of its normalised value.

Blob layout: version (1 byte) | key id length (1 byte) | key id | nonce (12 bytes) | ciphertext+tag
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from reservesync.settings import EncryptionSettings

VERSION = 1
NONCE_BYTES = 12
TAG_BYTES = 16
KEY_BYTES = 32
_LOOKUP_INFO = b"reservesync lookup v1"
# NUL cannot occur in a purpose, so `purpose | NUL | value` is unambiguous: no (purpose, value)
# pair can produce the same HMAC input as another.
_PURPOSE_SEPARATOR = b"\x00"
_KEY_ID = re.compile(r"[A-Za-z0-9_-]{1,16}")


class DecryptionError(ValueError):
    """The blob cannot be decrypted here: bad version, truncated, unknown key, wrong context
    or tampered. Raised instead of returning anything, so callers never see garbage."""


def normalise_bitcoin_address(address: str) -> str:
    """The form an address is looked up by, so "the same address" hashes the same.

    Bech32 (`bc1`, `tb1`, `bcrt1`) is case-insensitive and its canonical form is lowercase;
    base58 is case-sensitive, so folding its case would merge different addresses. Surrounding
    whitespace is never part of an address.
    """
    stripped = address.strip()
    if stripped.lower().startswith(("bc1", "tb1", "bcrt1")):
        return stripped.lower()
    return stripped


class FieldCipher:
    """Encrypts, decrypts and hashes sensitive fields with the configured keys.

    Build it with `from_settings`; the constructor takes raw keys for callers (and tests) that
    manage keys themselves.
    """

    def __init__(self, key_id: str, keys: dict[str, bytes], lookup_key: bytes) -> None:
        if key_id not in keys:
            raise ValueError(f"the current key {key_id!r} is not among the keys")
        for kid, key in keys.items():
            # The id is written into each blob as one length byte plus ASCII.
            if _KEY_ID.fullmatch(kid) is None:
                raise ValueError(f"key id {kid!r} must be 1-16 of [A-Za-z0-9_-]")
            # AESGCM would also take 16/24 bytes; the SPEC's keys are AES-256.
            if len(key) != KEY_BYTES:
                raise ValueError(f"key {kid!r} must be {KEY_BYTES} bytes")
        if len(lookup_key) != KEY_BYTES:
            raise ValueError(f"the lookup key must be {KEY_BYTES} bytes")
        self.key_id = key_id
        self._keys = {kid: AESGCM(key) for kid, key in keys.items()}
        self._lookup_key = lookup_key

    @classmethod
    def from_settings(cls, settings: EncryptionSettings) -> FieldCipher:
        """Current key plus previous ones; the lookup key is `FIELD_LOOKUP_KEY` or, if unset,
        HKDF-derived from the current key (so it then changes when that key rotates)."""
        current = bytes.fromhex(settings.field_encryption_key.get_secret_value())
        keys = {
            kid: bytes.fromhex(key.get_secret_value())
            for kid, key in settings.field_encryption_previous_keys.items()
        }
        keys[settings.field_encryption_key_id] = current
        if settings.field_lookup_key is not None:
            lookup = bytes.fromhex(settings.field_lookup_key.get_secret_value())
        else:
            lookup = derive_lookup_key(current)
        return cls(settings.field_encryption_key_id, keys, lookup)

    def encrypt(self, plaintext: str, *, context: str) -> bytes:
        """Seal `plaintext` under the current key, bound to `context` (e.g. "table.column:row").

        The nonce is random per call: 96 random bits are safe for far more encryptions per key
        than this system makes, and keep equal values from producing equal ciphertexts.
        """
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._keys[self.key_id].encrypt(nonce, plaintext.encode(), context.encode())
        kid = self.key_id.encode("ascii")
        return bytes([VERSION, len(kid)]) + kid + nonce + sealed

    def decrypt(self, blob: bytes, *, context: str) -> str:
        """Open a blob made by any configured key (current or previous) for the same context."""
        kid, nonce, sealed = _split(blob)
        key = self._keys.get(kid)
        if key is None:
            raise DecryptionError(f"no key {kid!r} configured (rotated out?)")
        try:
            plaintext = key.decrypt(nonce, sealed, context.encode())
        except InvalidTag as exc:
            raise DecryptionError("authentication failed: wrong context or tampered") from exc
        try:
            return plaintext.decode()
        except UnicodeDecodeError as exc:  # authentic but not ours: not made by `encrypt`
            raise DecryptionError("plaintext is not UTF-8") from exc

    def reencrypt(self, blob: bytes, *, context: str) -> bytes:
        """Move a value to the current key (the rotation job's step); the context stays."""
        return self.encrypt(self.decrypt(blob, context=context), context=context)

    @staticmethod
    def key_id_of(blob: bytes) -> str:
        """The key a blob was made with, without decrypting: a rotation job selects the rows
        still on old keys by it, and the key id column stores it."""
        return _split(blob)[0]

    def lookup_hash(self, value: str, *, purpose: str) -> bytes:
        """32 bytes, HMAC-SHA256 over `purpose | NUL | value`; pass an already normalised value.

        Deterministic, so equal values can be found by equality; keyed, so the hashes of a
        leaked table cannot be matched against a list of known addresses; the purpose keeps
        hashes of one field from matching another's.
        """
        if "\x00" in purpose:
            raise ValueError("a lookup purpose cannot contain NUL (it is the separator)")
        message = purpose.encode() + _PURPOSE_SEPARATOR + value.encode()
        return hmac.new(self._lookup_key, message, hashlib.sha256).digest()


def derive_lookup_key(encryption_key: bytes) -> bytes:
    """The default lookup key: HKDF-SHA256 of the encryption key, labelled so it is not the
    encryption key itself nor any other key derived from it."""
    return HKDF(hashes.SHA256(), KEY_BYTES, salt=None, info=_LOOKUP_INFO).derive(encryption_key)


def _split(blob: bytes) -> tuple[str, bytes, bytes]:
    """Parse the header; every malformation is a `DecryptionError`, never an IndexError."""
    if len(blob) < 2 or blob[0] != VERSION:
        raise DecryptionError("not a field ciphertext of a known version")
    kid_end = 2 + blob[1]
    if len(blob) < kid_end + NONCE_BYTES + TAG_BYTES:
        raise DecryptionError("truncated ciphertext")
    kid = blob[2:kid_end].decode("ascii", errors="replace")
    if _KEY_ID.fullmatch(kid) is None:
        raise DecryptionError(f"malformed key id {kid!r}")
    return kid, blob[kid_end : kid_end + NONCE_BYTES], blob[kid_end + NONCE_BYTES :]
