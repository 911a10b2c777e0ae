"""Owner proof: whoever holds an address's key shows it by signing a short-lived challenge the
API issued, with the wallet's ordinary message signing (EIP-191 `personal_sign`).

The challenge is one line of text (a wallet shows it as it is, and it fits in a header):

    ReserveSync owner proof for 0x… valid until 2025-09-21T10:05:00Z nonce <32 hex> tag <64 hex>

The tag is an HMAC of (address, expiry, nonce) under a key only the API holds, so the API keeps
no state: a challenge it did not issue, or one edited after issuing, fails the tag; an expired
one fails the clock. A challenge works for any number of reads until it expires (one signature
per visit, not per page), and only for the address it names.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from eth_account import Account
from eth_account.messages import encode_defunct

SIGNATURE_PATTERN = r"^0x[0-9a-fA-F]{130}$"
CHALLENGE_MAX_LENGTH = 256
_CHALLENGE = re.compile(
    r"ReserveSync owner proof for (0x[0-9a-f]{40}) valid until "
    r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z) nonce ([0-9a-f]{32}) tag ([0-9a-f]{64})"
)
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


class OwnerProofError(ValueError):
    """The proof does not show ownership; the message says what is wrong with it."""


@dataclass(frozen=True)
class Challenge:
    text: str
    address: str
    expires_at: datetime


class OwnerProofs:
    def __init__(self, key: bytes, ttl_s: float, clock: Callable[[], float] = time.time) -> None:
        self._key = key
        self._ttl_s = ttl_s
        self._clock = clock

    def issue(self, address: str) -> Challenge:
        expires = datetime.fromtimestamp(int(self._clock() + self._ttl_s), UTC)
        until = expires.strftime(_TIME_FORMAT)
        nonce = secrets.token_hex(16)
        text = (
            f"ReserveSync owner proof for {address} valid until {until} "
            f"nonce {nonce} tag {self._tag(address, until, nonce)}"
        )
        return Challenge(text, address, expires)

    def verify(self, address: str, challenge: str, signature: str) -> None:
        """Raises `OwnerProofError` unless `signature` is `address`'s signature of a live
        challenge this API issued for `address`."""
        match = _CHALLENGE.fullmatch(challenge)
        if match is None:
            raise OwnerProofError("the challenge is not one this API issues")
        named, until, nonce, tag = match.groups()
        if not hmac.compare_digest(tag, self._tag(named, until, nonce)):
            raise OwnerProofError("the challenge was not issued by this API or was altered")
        if named != address:
            raise OwnerProofError("the challenge was issued for another address")
        expires = datetime.strptime(until, _TIME_FORMAT).replace(tzinfo=UTC)
        if expires.timestamp() <= self._clock():
            raise OwnerProofError("the challenge has expired; ask for a new one")
        try:
            signer = Account.recover_message(encode_defunct(text=challenge), signature=signature)
        except Exception as exc:  # eth_keys raises several types for malformed signatures
            raise OwnerProofError("the signature is malformed") from exc
        if signer.lower() != address:
            raise OwnerProofError("the signature was not made by this address's key")

    def _tag(self, address: str, until: str, nonce: str) -> str:
        message = f"{address}|{until}|{nonce}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()


def derive_key(secret: bytes) -> bytes:
    """The challenge key, derived from a configured secret (the field encryption key) so that
    every replica and worker accepts the challenges of the others, while a leaked challenge
    key reveals nothing about the secret it came from."""
    return HKDF(hashes.SHA256(), 32, salt=None, info=b"reservesync api owner challenge v1").derive(
        secret
    )
