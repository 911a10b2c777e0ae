"""The request signature both sides compute: HMAC-SHA256 over `X-Timestamp`, a dot, and the
exact body bytes (`sha256=<hex>` in `X-Signature`).

The timestamp is signed so a captured request cannot be replayed outside the skew window;
it is Unix seconds and may carry a fraction, which the client uses so that two attempts in
the same second still sign differently (the server refuses a signature it has seen).
"""

from __future__ import annotations

import hashlib
import hmac
import time

SCHEME = "sha256="


def signature(key: bytes, timestamp: str, body: bytes) -> str:
    mac = hmac.new(key, timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return SCHEME + mac.hexdigest()


def now_timestamp() -> str:
    return f"{time.time():.6f}"
