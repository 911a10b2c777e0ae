"""Reading the oracle itself: its sealed `/users` (every user's state) and its journal
`/operations` (every operation it performed, logged or not). The oracle-logger's pull mode and
reconciliation read them to publish what is missing; the health service reads them, read-only,
as the oracle's side of the world."""

from __future__ import annotations

from typing import Any

import httpx
from pydantic import TypeAdapter

from reservesync.envelope import EnvelopeRejected, unseal
from reservesync.messages import OracleOperation, OracleUserState

STATES: TypeAdapter[list[OracleUserState]] = TypeAdapter(list[OracleUserState])
OPERATIONS: TypeAdapter[list[OracleOperation]] = TypeAdapter(list[OracleOperation])


def decrypt_users(body: bytes, key: bytes) -> list[Any]:
    """The decrypted list of user states (not yet validated); raises `EnvelopeRejected`."""
    document = unseal(body, key)
    if isinstance(document, dict) and isinstance(document.get("users"), list):
        document = document["users"]
    if not isinstance(document, list):
        raise EnvelopeRejected("bad_plaintext", "decrypted payload is not a list of user states")
    return document


def journal_operations(body: bytes, key: bytes) -> list[OracleOperation]:
    """The operations of a sealed journal, validated; raises `EnvelopeRejected` or
    `pydantic.ValidationError`."""
    document = unseal(body, key)
    items = document.get("operations") if isinstance(document, dict) else document
    return OPERATIONS.validate_python(items)


async def fetch_oracle(
    users_url: str, operations_url: str, key: bytes, timeout_s: float
) -> tuple[list[OracleUserState], list[OracleOperation]]:
    """The oracle's users and its journal, decrypted and validated."""
    async with httpx.AsyncClient(timeout=timeout_s) as http:
        users = await http.get(users_url)
        users.raise_for_status()
        journal = await http.get(operations_url)
        journal.raise_for_status()
    states = STATES.validate_python(decrypt_users(users.content, key))
    return states, journal_operations(journal.content, key)
