"""Pull mode against a real HTTP server on 127.0.0.1 serving the oracle's encrypted `/users`,
and the real Kafka: a payload that decrypts is published; a tampered one, or one under another
key, is reported (error log, metric, dead letter) and never published."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import logging
import secrets
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from aiohttp import web
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from prometheus_client import REGISTRY
from reservesync.topics import DLQ, ORACLE_STATE

from tests.oracle_logger.support import harness as ol
from tests.support.stack import Endpoints
from tests.support.topics import read_all
from tests.support.waiting import eventually

STATE = ORACLE_STATE.name


def encrypt(users: list[dict[str, Any]], key: bytes) -> dict[str, Any]:
    """The payload as the oracle serves it (Node's aes-256-gcm: hex fields, tag apart)."""
    iv = secrets.token_bytes(12)
    sealed = AESGCM(key).encrypt(iv, json.dumps(users).encode(), None)
    return {
        "encrypted": True,
        "data": sealed[:-16].hex(),
        "iv": iv.hex(),
        "authTag": sealed[-16:].hex(),
        "algorithm": "aes-256-gcm",
        "timestamp": 1_718_000_000_000,
    }


class OracleUsers:
    """A tiny oracle on 127.0.0.1 whose GET /users answers whatever `body` holds."""

    def __init__(self) -> None:
        self.key = secrets.token_bytes(32)
        self.body = b"{}"
        self.url = ""

    async def handle(self, _request: web.Request) -> web.Response:
        return web.Response(body=self.body, content_type="application/json")


@pytest.fixture
async def oracle() -> AsyncIterator[OracleUsers]:
    served = OracleUsers()
    application = web.Application()
    application.router.add_get("/users", served.handle)
    runner = web.AppRunner(application)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    served.url = f"http://127.0.0.1:{port}/users"
    try:
        yield served
    finally:
        await runner.cleanup()


@contextlib.asynccontextmanager
async def pulling(
    endpoints: Endpoints, oracle: OracleUsers, payload: dict[str, Any]
) -> AsyncIterator[httpx.AsyncClient]:
    """The app pulling `payload` from `oracle` (once, at startup: the interval is an hour)."""
    oracle.body = json.dumps(payload).encode()
    config = ol.settings(
        endpoints,
        oracle_users_url=oracle.url,
        oracle_state_key=oracle.key.hex(),
        oracle_pull_interval_s=3600,
    )
    async with ol.running(config) as (_, http):
        yield http


def _pulls(outcome: str) -> float:
    return REGISTRY.get_sample_value("oracle_logger_state_pulls_total", {"outcome": outcome}) or 0.0


async def _dead_letter_of(bootstrap: str, body: bytes) -> dict[str, Any]:
    """The dead letter carrying exactly `body`, or {} while there is none."""
    wanted = hashlib.sha256(body).hexdigest()
    for _, value, _, _ in await read_all(bootstrap, DLQ.name):
        letter: dict[str, Any] = json.loads(value or b"{}")
        if letter.get("value_sha256") == wanted:
            return letter
    return {}


async def reported(bootstrap: str, body: bytes) -> dict[str, Any]:
    return await eventually(
        lambda: _dead_letter_of(bootstrap, body), what="the dead letter of the rejected payload"
    )


async def test_encrypted_users_are_decrypted_and_published(
    endpoints: Endpoints, oracle: OracleUsers
) -> None:
    users = [ol.new_user(), ol.new_user()]
    states = [ol.user_state(u) for u in users]
    bootstrap = endpoints.kafka_bootstrap_servers
    ok_before = _pulls("ok")
    async with pulling(endpoints, oracle, encrypt(states, oracle.key)):

        async def both_published() -> list[dict[str, Any]]:
            found = await ol.published(bootstrap, STATE, set(users))
            return found if len(found) == len(users) else []

        records = await eventually(both_published, what="the pulled states on the state topic")
    assert {r["user_address"]: r["last_synced_sats"] for r in records} == {
        u: 250_000 for u in users
    }
    assert all(r["schema"] == "oracle.user_state/v1" for r in records)
    assert _pulls("ok") - ok_before >= 1


def _tampered(users: list[dict[str, Any]], key: bytes) -> dict[str, Any]:
    payload = encrypt(users, key)
    tag = bytearray(bytes.fromhex(payload["authTag"]))
    tag[0] ^= 0x01
    return {**payload, "authTag": tag.hex()}


@pytest.mark.parametrize("fault", ["tampered auth tag", "wrong key"])
async def test_undecryptable_users_are_reported_and_not_published(
    endpoints: Endpoints, oracle: OracleUsers, caplog: pytest.LogCaptureFixture, fault: str
) -> None:
    users = [ol.new_user(), ol.new_user()]
    states = [ol.user_state(u) for u in users]
    payload = (
        _tampered(states, oracle.key)
        if fault == "tampered auth tag"
        else encrypt(states, secrets.token_bytes(32))  # not the service's key
    )
    bootstrap = endpoints.kafka_bootstrap_servers
    failed_before = _pulls("decrypt_failed")
    with caplog.at_level(logging.ERROR, logger="oracle_logger.state_pull"):
        async with pulling(endpoints, oracle, payload) as http:
            letter = await reported(bootstrap, oracle.body)
            await ol.prove_nothing_published(http, bootstrap, STATE, users)

    assert letter["source_topic"] == "oracle:/users"
    assert (letter["partition"], letter["offset"]) == (0, 0)
    assert letter["service"] == "oracle-logger"
    assert "authentication tag does not verify" in letter["error"], letter["error"]
    # The dead letter keeps what was received, the ciphertext, never a decrypted state.
    assert base64.b64decode(letter["value_base64"]) == oracle.body
    assert _pulls("decrypt_failed") - failed_before >= 1
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert any("rejected the oracle's users payload" in r.getMessage() for r in errors), errors


async def test_invalid_users_are_dead_lettered_and_valid_ones_published(
    endpoints: Endpoints, oracle: OracleUsers
) -> None:
    good, bad = ol.new_user(), ol.new_user()
    states = [ol.user_state(good), ol.user_state(bad, last_synced_sats=-1)]
    bootstrap = endpoints.kafka_bootstrap_servers
    async with pulling(endpoints, oracle, encrypt(states, oracle.key)) as http:
        letter = await reported(bootstrap, oracle.body)
        await ol.prove_nothing_published(http, bootstrap, STATE, [bad])
        records = await ol.published(bootstrap, STATE, {good})
    assert "item 1: last_synced_sats" in letter["error"], letter["error"]
    assert [r["user_address"] for r in records] == [good]
