"""The oracle's encrypted payloads: `{encrypted, data, iv, authTag, algorithm, timestamp}`.

The reference oracle serves its `/users` state this way (AES-256-GCM, hex fields, the key from
configuration). The oracle simulator seals with it, the oracle-logger opens with it, so both
sides of the format live here.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from typing import Any, Literal

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import BaseModel, ConfigDict, Field, ValidationError

ALGORITHM = "aes-256-gcm"
_TAG_BYTES = 16
_IV_BYTES = 12
_HEX = r"^([0-9a-fA-F]{2})*$"


class Envelope(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True)

    encrypted: Literal[True]
    data: str = Field(pattern=_HEX)
    iv: str = Field(pattern=_HEX, min_length=16)
    auth_tag: str = Field(alias="authTag", pattern=_HEX)
    algorithm: Literal["aes-256-gcm"]
    timestamp: str | int | float | None = None


class EnvelopeRejected(Exception):
    """`outcome` names the failure for metrics: bad_envelope, decrypt_failed, bad_plaintext."""

    def __init__(self, outcome: str, message: str) -> None:
        super().__init__(message)
        self.outcome = outcome


def seal(document: Any, key: bytes) -> dict[str, Any]:
    """`document` as JSON, encrypted under `key` (32 bytes) with a fresh random IV."""
    iv = os.urandom(_IV_BYTES)
    sealed = AESGCM(key).encrypt(iv, json.dumps(document, separators=(",", ":")).encode(), None)
    return {
        "encrypted": True,
        "data": sealed[:-_TAG_BYTES].hex(),
        "iv": iv.hex(),
        "authTag": sealed[-_TAG_BYTES:].hex(),
        "algorithm": ALGORITHM,
        "timestamp": datetime.now(UTC).isoformat(),
    }


def unseal(body: bytes, key: bytes) -> Any:
    """The decrypted JSON document; raises `EnvelopeRejected` with the reason."""
    try:
        envelope = Envelope.model_validate_json(body)
    except ValidationError as exc:
        raise EnvelopeRejected("bad_envelope", f"not an aes-256-gcm envelope: {exc}") from exc
    tag = bytes.fromhex(envelope.auth_tag)
    if len(tag) != _TAG_BYTES:
        raise EnvelopeRejected("bad_envelope", f"authTag has {len(tag)} bytes, expected 16")
    try:
        plaintext = AESGCM(key).decrypt(
            bytes.fromhex(envelope.iv), bytes.fromhex(envelope.data) + tag, None
        )
    except InvalidTag as exc:
        raise EnvelopeRejected(
            "decrypt_failed",
            "the authentication tag does not verify: the payload was altered or the key is "
            "not the oracle's",
        ) from exc
    except ValueError as exc:  # a nonce length AES-GCM does not take
        raise EnvelopeRejected("bad_envelope", f"unusable iv: {exc}") from exc
    try:
        return json.loads(plaintext)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EnvelopeRejected("bad_plaintext", f"decrypted payload is not JSON: {exc}") from exc
