"""Identities that several services must compute the same way."""

from __future__ import annotations

import hashlib
from datetime import datetime


def burn_key(user: str, tx_hash: str | None, burned_sats: int, occurred_at: datetime) -> str:
    """One emergency burn, whoever reports it (the chain's EmergencyBurn event or the oracle).

    A burn with a transaction is that transaction's burn of that user; one the oracle knows
    without a transaction is identified by what it is (user, amount, time), so reporting it
    again never makes a second row.
    """
    if tx_hash:
        return f"{tx_hash.lower()}:{user.lower()}"
    fingerprint = f"{user.lower()}|{burned_sats}|{occurred_at.isoformat()}"
    return "offchain:" + hashlib.sha256(fingerprint.encode()).hexdigest()
