"""Helpers of the oracle-logger tests: credentials, valid messages for fresh users, the app run
in-process against the real Kafka, and reading back what reached a topic."""

from __future__ import annotations

import contextlib
import json
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi import FastAPI
from oracle_logger.app import create_app
from oracle_logger.config import Settings
from oracle_logger.signing import now_timestamp, signature
from pydantic import SecretStr

from tests.support.stack import Endpoints
from tests.support.topics import read_all

ORACLE = "oracle-test-1"
OTHER_ORACLE = "oracle-test-2"
"""Configured without a scope: it gets the default one (BALANCE_CHECK only, no user state)."""
TOKEN = "tok-" + secrets.token_hex(16)
OTHER_TOKEN = "tok-" + secrets.token_hex(16)
FULL_SCOPE = {"actions": ["*"], "user_state": True}
HMAC_KEY = "key-" + secrets.token_hex(16)
MAX_BODY_BYTES = 8192
MAX_ITEMS = 20
BASE_URL = "http://oracle-logger.test"


def new_user() -> str:
    """A user address no other test (or earlier run) has used: absence checks rely on it."""
    return "0x" + secrets.token_hex(20)


def now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def operation(user: str, *, oracle_id: str = ORACLE, **changes: Any) -> dict[str, Any]:
    """An `oracle.operation/v1` as an oracle would post it (JSON-ready)."""
    op: dict[str, Any] = {
        "schema": "oracle.operation/v1",
        "operation_id": f"op-{secrets.token_hex(8)}",
        "action": "MINT",
        "user_address": user,
        "bitcoin_address": "bc1q" + "a" * 38,
        "amount_sats": 125_000,
        "previous_sats": 0,
        "consensus_reached": True,
        "sources_used": ["mempool", "blockstream"],
        "status": "success",
        "occurred_at": now(),
        "oracle_id": oracle_id,
    }
    op.update(changes)
    return op


def user_state(user: str, **changes: Any) -> dict[str, Any]:
    """An `oracle.user_state/v1` (JSON-ready)."""
    state: dict[str, Any] = {
        "schema": "oracle.user_state/v1",
        "user_address": user,
        "bitcoin_addresses": [
            {
                "address": "bc1q" + secrets.token_hex(19),
                "network": "mainnet",
                "verified_at": now(),
                "monitoring": True,
            }
        ],
        "last_synced_sats": 250_000,
        "last_sync_at": now(),
        "registered_at": now(),
        "emergency_burns": [],
        "operations_performed": 7,
        "as_of": now(),
    }
    state.update(changes)
    return state


def body_of(items: Any) -> bytes:
    return json.dumps(items).encode()


def bearer(oracle_id: str = ORACLE, token: str = TOKEN) -> dict[str, str]:
    return {
        "X-Oracle-Id": oracle_id,
        "Authorization": f"Bearer {token}",
        "Content-Type": "application/json",
    }


def signed(
    body: bytes, *, oracle_id: str = ORACLE, key: str = HMAC_KEY, timestamp: str | None = None
) -> dict[str, str]:
    timestamp = timestamp or now_timestamp()
    return {
        "X-Oracle-Id": oracle_id,
        "X-Timestamp": timestamp,
        "X-Signature": signature(key.encode(), timestamp, body),
        "Content-Type": "application/json",
    }


def settings(endpoints: Endpoints, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "kafka_bootstrap_servers": endpoints.kafka_bootstrap_servers,
        "database_url": SecretStr(endpoints.database_urls["rs_oracle_logger"]),
        "oracle_tokens": {ORACLE: SecretStr(TOKEN), OTHER_ORACLE: SecretStr(OTHER_TOKEN)},
        "oracle_hmac_keys": {ORACLE: SecretStr(HMAC_KEY)},
        "oracle_scopes": {ORACLE: FULL_SCOPE},
        "oracle_max_body_bytes": MAX_BODY_BYTES,
        "oracle_max_batch_items": MAX_ITEMS,
        "oracle_publish_timeout_s": 30.0,
        **overrides,
    }
    return Settings(**values)


def process_environment(**overrides: str) -> dict[str, str]:
    """What `services.start` adds for a real oracle-logger process configured like `settings`."""
    return {
        "ORACLE_TOKENS": json.dumps({ORACLE: TOKEN, OTHER_ORACLE: OTHER_TOKEN}),
        "ORACLE_HMAC_KEYS": json.dumps({ORACLE: HMAC_KEY}),
        "ORACLE_SCOPES": json.dumps({ORACLE: FULL_SCOPE}),
        "ORACLE_MAX_BODY_BYTES": str(MAX_BODY_BYTES),
        **overrides,
    }


@contextlib.asynccontextmanager
async def running(config: Settings) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """The app with its lifespan started (producer, pull task) and an HTTP client on it."""
    app = create_app(config)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL) as http,
    ):
        yield app, http


async def published(bootstrap: str, topic: str, users: set[str]) -> list[dict[str, Any]]:
    """The values on `topic` whose key is one of `users`, checked to be keyed by their user."""
    found = []
    for key, value, _, _ in await read_all(bootstrap, topic):
        if key is None or key.decode() not in users:
            continue
        assert value is not None, f"unexpected tombstone for {key!r} on {topic}"
        document: dict[str, Any] = json.loads(value)
        assert document["user_address"] == key.decode(), f"record keyed {key!r}: {document}"
        found.append(document)
    return found


async def prove_nothing_published(
    http: httpx.AsyncClient, bootstrap: str, topic: str, users: list[str]
) -> None:
    """Fail unless nothing reached `topic` for `users` before now.

    Posts one sentinel per user through the same service (same producer, same key, hence the
    same partition after anything published earlier) and waits for its acknowledgement, so
    the read-back is complete without any sleeping."""
    if topic.startswith("rbtc.oracle.operations"):
        path, items = "/v1/operations", [operation(u, reason="sentinel") for u in users]
    else:
        path, items = "/v1/state", [user_state(u, operations_performed=424242) for u in users]
    response = await http.post(path, content=body_of(items), headers=bearer())
    assert response.status_code == 202, f"sentinel refused: {response.status_code} {response.text}"
    records = await published(bootstrap, topic, set(users))
    strays = [
        r
        for r in records
        if r.get("reason") != "sentinel" and r.get("operations_performed") != 424242
    ]
    assert not strays, f"refused request still published to {topic}: {strays}"
    assert len(records) == len(users), f"expected only the sentinels, found {records}"


class TimeoutAfterForwarding(httpx.AsyncBaseTransport):
    """Forwards each request to the app, then loses the first `failures` answers the way a
    client timeout does: the server has accepted, the client never hears it."""

    def __init__(self, inner: httpx.AsyncBaseTransport, failures: int = 1) -> None:
        self.inner = inner
        self.failures = failures
        self.statuses: list[int] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        await response.aread()  # the app has run to completion: it accepted or refused
        self.statuses.append(response.status_code)
        if self.failures > 0:
            self.failures -= 1
            raise httpx.ReadTimeout(
                "simulated: answer lost after the server replied", request=request
            )
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()
