"""Who is calling: every write names its oracle in `X-Oracle-Id` and proves it with either

- `Authorization: Bearer <token>` (that oracle's entry of `ORACLE_TOKENS`), or
- `X-Timestamp: <unix seconds>` + `X-Signature: sha256=<hex>`, HMAC-SHA256 with that oracle's
  entry of `ORACLE_HMAC_KEYS` over `<X-Timestamp>.<body>` (see `signing`).

A signed request is refused when its timestamp is further than the skew window from our clock,
and when its signature was already used (a replay within the window): a replayed state could
otherwise overwrite a newer one on the compacted topic. Used signatures are recorded in the
state the replicas share (`shared_state`), so "each signature once" holds across replicas and
restarts. Clients sign every attempt anew.

Failures say which rule failed but never whether an oracle id exists.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Callable, Mapping
from typing import Protocol

from pydantic import SecretStr
from reservesync.http_errors import ApiError

from oracle_logger.errors import unauthenticated
from oracle_logger.signing import SCHEME, signature

_TIMESTAMP = re.compile(r"^[0-9]{1,12}(\.[0-9]{1,9})?$")
_SIGNATURE = re.compile(rf"^{SCHEME}[0-9a-fA-F]{{64}}$")
# A used signature is kept a little past the end of its window, so clock differences between
# the replicas and the database cannot prune it while a replay would still pass the skew check.
_EXPIRY_MARGIN_S = 60.0
# Compared against when the oracle id is unknown, so the answer takes as long as for a known one.
_NO_SECRET = SecretStr("\x00" * 32)


def _same_secret(presented: bytes, expected: SecretStr) -> bool:
    # Comparing digests makes the comparison independent of the token's length as well.
    return hmac.compare_digest(
        hashlib.sha256(presented).digest(),
        hashlib.sha256(expected.get_secret_value().encode()).digest(),
    )


class UsedSignatures(Protocol):
    async def first_use(self, signature: str, expires_at: float) -> bool:
        """Records the signature until `expires_at` (Unix time); False when already used."""


class Authenticator:
    def __init__(
        self,
        tokens: Mapping[str, SecretStr],
        hmac_keys: Mapping[str, SecretStr],
        max_skew_s: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._tokens = dict(tokens)
        self._hmac_keys = dict(hmac_keys)
        self._max_skew_s = max_skew_s
        self._clock = clock
        self.used: UsedSignatures | None = None
        """Set while the app's lifespan runs; a signed request is refused (503) without it."""

    @property
    def configured(self) -> bool:
        return bool(self._tokens or self._hmac_keys)

    async def authenticate(
        self,
        *,
        oracle_id: str | None,
        authorization: str | None,
        timestamp: str | None,
        signature_header: str | None,
        body: bytes,
    ) -> str:
        """The authenticated oracle id; raises a 401 `ApiError` otherwise."""
        if not oracle_id:
            raise unauthenticated("missing_oracle_id", "the X-Oracle-Id header is required")
        if authorization is not None and signature_header is not None:
            raise unauthenticated(
                "ambiguous_credentials", "send either a bearer token or a signature, not both"
            )
        if authorization is not None:
            return self._bearer(oracle_id, authorization)
        if signature_header is not None:
            return await self._signed(oracle_id, timestamp, signature_header, body)
        raise unauthenticated(
            "missing_credentials",
            "send Authorization: Bearer <token>, or X-Timestamp and X-Signature: sha256=<hex>",
        )

    def _bearer(self, oracle_id: str, authorization: str) -> str:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise unauthenticated("bad_token", "the Authorization header must be 'Bearer <token>'")
        expected = self._tokens.get(oracle_id)
        matches = _same_secret(token.strip().encode(), expected or _NO_SECRET)
        if expected is None or not matches:
            raise unauthenticated("bad_token", "unknown oracle id or wrong token")
        return oracle_id

    async def _signed(
        self, oracle_id: str, timestamp: str | None, signature_header: str, body: bytes
    ) -> str:
        if timestamp is None or _TIMESTAMP.fullmatch(timestamp) is None:
            raise unauthenticated(
                "bad_timestamp", "X-Timestamp must be Unix time in seconds (a fraction is allowed)"
            )
        if _SIGNATURE.fullmatch(signature_header) is None:
            raise unauthenticated("bad_signature", "X-Signature must be 'sha256=<64 hex digits>'")
        key = self._hmac_keys.get(oracle_id)
        expected = signature((key or _NO_SECRET).get_secret_value().encode(), timestamp, body)
        matches = hmac.compare_digest(expected.encode(), signature_header.lower().encode())
        if key is None or not matches:
            raise unauthenticated(
                "bad_signature",
                "unknown oracle id or wrong signature (HMAC-SHA256 over '<X-Timestamp>.<body>')",
            )
        skew = abs(self._clock() - float(timestamp))
        if skew > self._max_skew_s:
            raise unauthenticated(
                "stale_timestamp",
                f"X-Timestamp is {skew:.0f}s from the server's clock "
                f"(at most {self._max_skew_s:.0f}s allowed)",
            )
        if self.used is None:
            raise ApiError(
                503, "not_ready", "the shared state is not open", headers={"Retry-After": "1"}
            )
        # A signature stays replayable while its timestamp is inside the window.
        expires_at = float(timestamp) + self._max_skew_s + _EXPIRY_MARGIN_S
        if not await self.used.first_use(f"{oracle_id}:{signature_header.lower()}", expires_at):
            raise unauthenticated(
                "replayed_signature",
                "this signature was already used (on this or another replica); "
                "sign every attempt anew",
            )
        return oracle_id
