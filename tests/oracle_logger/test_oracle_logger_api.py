"""The write API in-process (ASGI) against the real Kafka: what is accepted reaches the topic
exactly once, keyed by user; what is refused says why and reaches nothing."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from oracle_logger.client import OracleLoggerClient, OracleLoggerRejected
from prometheus_client import REGISTRY
from reservesync.messages import OracleOperation
from reservesync.topics import ORACLE_OPERATIONS, ORACLE_STATE

from tests.oracle_logger.support import harness as ol
from tests.support.stack import Endpoints
from tests.support.waiting import eventually

OPS = ORACLE_OPERATIONS.name


def _sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def _settled(value: bool) -> bool:
    return value


def _by_id(records: list[dict[str, Any]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for record in records:
        counts[record["operation_id"]] = counts.get(record["operation_id"], 0) + 1
    return counts


async def test_single_object_and_batch_reach_the_topic_once_keyed_by_user(
    http: httpx.AsyncClient, endpoints: Endpoints
) -> None:
    users = [ol.new_user() for _ in range(3)]
    single = ol.operation(users[0], user_address=users[0].upper().replace("0X", "0x"))
    batch = [ol.operation(users[1]), ol.operation(users[2], action="BURN"), ol.operation(users[1])]
    accepted_before = _sample("oracle_logger_accepted_items_total", kind="operation", source="push")
    latency_before = _sample("oracle_logger_publish_seconds_count", topic=OPS)

    one = await http.post("/v1/operations", content=ol.body_of(single), headers=ol.bearer())
    assert one.status_code == 202, one.text
    assert one.json() == {"accepted": [single["operation_id"]], "already_accepted": []}
    body = ol.body_of(batch)
    many = await http.post("/v1/operations", content=body, headers=ol.signed(body))
    assert many.status_code == 202, many.text
    assert many.json()["accepted"] == [op["operation_id"] for op in batch]

    records = await ol.published(endpoints.kafka_bootstrap_servers, OPS, set(users))
    assert _by_id(records) == {op["operation_id"]: 1 for op in [single, *batch]}
    on_topic = {r["operation_id"]: r for r in records}
    # Published as the validated contract message: lowercase address, schema, normalised time.
    assert on_topic[single["operation_id"]]["user_address"] == users[0]
    assert OracleOperation.model_validate(on_topic[batch[1]["operation_id"]]).action == "BURN"
    assert (
        _sample("oracle_logger_accepted_items_total", kind="operation", source="push")
        - accepted_before
        == 4
    )
    assert _sample("oracle_logger_publish_seconds_count", topic=OPS) - latency_before == 2


@pytest.mark.parametrize("credential", ["token", "hmac"])
async def test_client_retry_after_a_lost_answer_publishes_each_operation_once(
    app: FastAPI, endpoints: Endpoints, credential: str
) -> None:
    transport = ol.TimeoutAfterForwarding(httpx.ASGITransport(app=app), failures=1)
    users = [ol.new_user() for _ in range(2)]
    ops = [OracleOperation.model_validate(ol.operation(users[i % 2])) for i in range(5)]
    async with OracleLoggerClient(
        ol.BASE_URL,
        ol.ORACLE,
        token=ol.TOKEN if credential == "token" else None,
        hmac_key=ol.HMAC_KEY if credential == "hmac" else None,
        backoff_base_s=0.01,
        transport=transport,
    ) as client:
        for op in ops:
            await client.log_operation(op)
        accepted = await client.flush()

    assert accepted == [op.operation_id for op in ops]
    assert transport.statuses == [202, 202], "first answer (lost) and the retry's answer"
    records = await ol.published(endpoints.kafka_bootstrap_servers, OPS, set(users))
    assert _by_id(records) == {op.operation_id: 1 for op in ops}, "a retry published again"


async def test_client_batches_by_size_and_by_time(app: FastAPI, endpoints: Endpoints) -> None:
    transport = ol.TimeoutAfterForwarding(httpx.ASGITransport(app=app), failures=0)
    user = ol.new_user()
    ops = [OracleOperation.model_validate(ol.operation(user)) for _ in range(5)]
    async with OracleLoggerClient(
        ol.BASE_URL, ol.ORACLE, token=ol.TOKEN, batch_size=2, max_delay_s=0.05, transport=transport
    ) as client:
        for op in ops:
            await client.log_operation(op)
        assert len(transport.statuses) == 2, "two full batches of 2 go out at once"
        # The fifth waits for the timer (leaving the block would flush it: wait inside).
        await eventually(
            lambda: _settled(len(transport.statuses) == 3), what="the timed flush of the 5th"
        )
    records = await ol.published(endpoints.kafka_bootstrap_servers, OPS, {user})
    assert [r["operation_id"] for r in records] == [op.operation_id for op in ops]


async def test_concurrent_identical_requests_publish_once(
    http: httpx.AsyncClient, endpoints: Endpoints
) -> None:
    users = [ol.new_user() for _ in range(3)]
    body = ol.body_of([ol.operation(u) for u in users])
    first, second = await asyncio.gather(
        http.post("/v1/operations", content=body, headers=ol.bearer()),
        http.post("/v1/operations", content=body, headers=ol.bearer()),
    )
    assert (first.status_code, second.status_code) == (202, 202), (first.text, second.text)
    answers = sorted([first.json()["already_accepted"], second.json()["already_accepted"]], key=len)
    assert answers[0] == [], "one of them published"
    assert answers[1] == first.json()["accepted"], "the other was answered from memory"
    records = await ol.published(endpoints.kafka_bootstrap_servers, OPS, set(users))
    assert len(records) == 3, records


async def test_reused_operation_id_with_other_content_is_a_conflict(
    http: httpx.AsyncClient, endpoints: Endpoints
) -> None:
    user = ol.new_user()
    original = ol.operation(user)
    assert (
        await http.post("/v1/operations", content=ol.body_of(original), headers=ol.bearer())
    ).status_code == 202
    changed = {**original, "amount_sats": 1}
    response = await http.post("/v1/operations", content=ol.body_of(changed), headers=ol.bearer())
    assert response.status_code == 409, response.text
    assert response.json()["error"] == "operation_id_conflict"
    assert original["operation_id"] in response.json()["message"]
    records = await ol.published(endpoints.kafka_bootstrap_servers, OPS, {user})
    assert [r["amount_sats"] for r in records] == [original["amount_sats"]]


async def test_replayed_signature_is_refused_and_not_published_again(
    http: httpx.AsyncClient, endpoints: Endpoints
) -> None:
    user = ol.new_user()
    body = ol.body_of([ol.operation(user)])
    headers = ol.signed(body)
    assert (await http.post("/v1/operations", content=body, headers=headers)).status_code == 202
    replay = await http.post("/v1/operations", content=body, headers=headers)
    assert replay.status_code == 401, replay.text
    assert replay.json()["error"] == "replayed_signature"
    assert len(await ol.published(endpoints.kafka_bootstrap_servers, OPS, {user})) == 1


@dataclass(frozen=True)
class Refusal:
    """A request built for fresh users that must be refused with `status` and `error`."""

    build: Callable[[list[str]], tuple[dict[str, str], Any]]
    status: int
    error: str
    item_errors: list[tuple[int | None, str | None]] | None = None
    """(index, field) pairs the answer must list, when the refusal is about items."""
    message_has: str = ""


def _with(headers: Callable[[bytes], dict[str, str]], items: Callable[[list[str]], Any]) -> Any:
    def build(users: list[str]) -> tuple[dict[str, str], bytes]:
        body = ol.body_of(items(users))
        return headers(body), body

    return build


def _by_token(_body: bytes) -> dict[str, str]:
    return ol.bearer()


def _ops(users: list[str]) -> list[dict[str, Any]]:
    return [ol.operation(u) for u in users]


async def _chunks(total: int) -> AsyncIterator[bytes]:
    # Streamed without Content-Length: only counting while reading can catch it.
    for _ in range(total // 1024 + 1):
        yield b" " * 1024


REFUSALS: dict[str, Refusal] = {
    "wrong token": Refusal(
        _with(lambda b: ol.bearer(token="tok-" + "0" * 32), _ops), 401, "bad_token", None, "wrong"
    ),
    "another oracle's token": Refusal(
        _with(lambda b: ol.bearer(ol.ORACLE, ol.OTHER_TOKEN), _ops), 401, "bad_token"
    ),
    "unknown oracle": Refusal(_with(lambda b: ol.bearer("oracle-nobody"), _ops), 401, "bad_token"),
    "no credentials": Refusal(
        _with(lambda b: {"X-Oracle-Id": ol.ORACLE}, _ops), 401, "missing_credentials"
    ),
    "no oracle id": Refusal(
        _with(lambda b: {"Authorization": f"Bearer {ol.TOKEN}"}, _ops), 401, "missing_oracle_id"
    ),
    "bad signature": Refusal(
        _with(lambda b: ol.signed(b, key="key-" + "f" * 32), _ops), 401, "bad_signature"
    ),
    "signature of another body": Refusal(
        _with(lambda b: ol.signed(b + b" "), _ops), 401, "bad_signature"
    ),
    "stale timestamp": Refusal(
        _with(lambda b: ol.signed(b, timestamp=f"{time.time() - 3600:.3f}"), _ops),
        401,
        "stale_timestamp",
        None,
        "300s",
    ),
    "timestamp from the future": Refusal(
        _with(lambda b: ol.signed(b, timestamp=str(int(time.time()) + 3600)), _ops),
        401,
        "stale_timestamp",
    ),
    "bad schema": Refusal(
        _with(
            _by_token,
            lambda us: [
                ol.operation(us[0]),
                {k: v for k, v in ol.operation(us[1]).items() if k != "status"}
                | {"action": "STEAL"},
            ],
        ),
        400,
        "invalid_items",
        [(1, "action"), (1, "status")],
    ),
    "unknown field": Refusal(
        _with(_by_token, lambda us: [ol.operation(us[0], surprise=1), ol.operation(us[1])]),
        400,
        "invalid_items",
        [(0, "surprise")],
    ),
    "bad address": Refusal(
        _with(
            _by_token,
            lambda us: [
                ol.operation(us[0]),
                ol.operation(us[1]),
                ol.operation("0x1234", user_address="0xZZ"),
            ],
        ),
        400,
        "invalid_items",
        [(2, "user_address")],
    ),
    "negative sats": Refusal(
        _with(_by_token, lambda us: [ol.operation(us[0], amount_sats=-5), ol.operation(us[1])]),
        400,
        "invalid_items",
        [(0, "amount_sats")],
    ),
    "not an object": Refusal(
        _with(_by_token, lambda us: [ol.operation(us[0]), "MINT", ol.operation(us[1])]),
        400,
        "invalid_items",
        [(1, None)],
    ),
    "same id, other content": Refusal(
        _with(
            _by_token,
            lambda us: [
                ol.operation(us[0], operation_id="op-dup-" + us[0]),
                ol.operation(us[1], operation_id="op-dup-" + us[0]),
            ],
        ),
        400,
        "invalid_items",
        [(1, "operation_id")],
    ),
    "oracle id mismatch": Refusal(
        _with(
            _by_token,
            lambda us: [ol.operation(us[0]), ol.operation(us[1], oracle_id=ol.OTHER_ORACLE)],
        ),
        403,
        "oracle_mismatch",
        [(1, "oracle_id")],
    ),
    "oracle id mismatch, other credential": Refusal(
        _with(lambda b: ol.bearer(ol.OTHER_ORACLE, ol.OTHER_TOKEN), _ops), 403, "oracle_mismatch"
    ),
    "mixed case with a wrong EIP-55 checksum": Refusal(
        _with(
            _by_token,
            lambda us: [
                ol.operation(us[0]),
                # EIP-55's 0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed with its last letter flipped.
                ol.operation(us[1], user_address="0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD"),
            ],
        ),
        400,
        "invalid_items",
        [(1, "user_address")],
        "1 problem",
    ),
    "block number beyond a bigint": Refusal(
        _with(_by_token, lambda us: [ol.operation(us[0], block_number=2**63), ol.operation(us[1])]),
        400,
        "invalid_items",
        [(0, "block_number")],
    ),
    "NUL in a reason": Refusal(
        _with(_by_token, lambda us: [ol.operation(us[0], reason="a\u0000b"), ol.operation(us[1])]),
        400,
        "invalid_items",
        [(0, "reason")],
    ),
    "action outside the default scope": Refusal(
        _with(
            lambda b: ol.bearer(ol.OTHER_ORACLE, ol.OTHER_TOKEN),
            lambda us: [
                ol.operation(us[0], oracle_id=ol.OTHER_ORACLE, action="BALANCE_CHECK"),
                ol.operation(us[1], oracle_id=ol.OTHER_ORACLE, action="MINT"),
            ],
        ),
        403,
        "action_out_of_scope",
        [(1, "action")],
    ),
    "invalid json": Refusal(
        lambda us: (ol.bearer(), b'[{"operation_id": "' + us[0].encode()), 400, "invalid_json"
    ),
    "empty batch": Refusal(_with(_by_token, lambda us: []), 400, "empty_batch"),
    "too many items": Refusal(
        _with(_by_token, lambda us: [ol.operation(us[0]), *[{}] * ol.MAX_ITEMS]),
        413,
        "too_many_items",
    ),
    "oversized body (declared)": Refusal(
        _with(
            _by_token,
            lambda us: [ol.operation(us[0], reason="x" * ol.MAX_BODY_BYTES), ol.operation(us[1])],
        ),
        413,
        "body_too_large",
    ),
    "oversized body (streamed)": Refusal(
        lambda us: (ol.bearer(), _chunks(ol.MAX_BODY_BYTES)), 413, "body_too_large"
    ),
}


STATE_REFUSALS: dict[str, Refusal] = {
    "wrong token": Refusal(
        _with(
            lambda b: ol.bearer(token="tok-" + "1" * 32), lambda us: [ol.user_state(u) for u in us]
        ),
        401,
        "bad_token",
    ),
    "bad schema": Refusal(
        _with(
            _by_token, lambda us: [ol.user_state(us[0]), ol.user_state(us[1], last_synced_sats="x")]
        ),
        400,
        "invalid_items",
        [(1, "last_synced_sats")],
    ),
    "bad address": Refusal(
        _with(
            _by_token, lambda us: [ol.user_state(us[0], user_address="0x12"), ol.user_state(us[1])]
        ),
        400,
        "invalid_items",
        [(0, "user_address")],
    ),
    "oracle without the user-state scope": Refusal(
        _with(
            lambda b: ol.bearer(ol.OTHER_ORACLE, ol.OTHER_TOKEN),
            lambda us: [ol.user_state(u) for u in us],
        ),
        403,
        "state_out_of_scope",
    ),
    "NUL in a burn reason": Refusal(
        _with(
            _by_token,
            lambda us: [
                ol.user_state(
                    us[0],
                    emergency_burns=[
                        {
                            "burned_sats": 5,
                            "reason": "no\u0000fees",
                            "tx_hash": None,
                            "block_number": None,
                            "occurred_at": ol.now(),
                        }
                    ],
                )
            ],
        ),
        400,
        "invalid_items",
        [(0, "emergency_burns.0.reason")],
    ),
    "oversized": Refusal(
        _with(_by_token, lambda us: [ol.user_state(us[0], reason="x" * ol.MAX_BODY_BYTES)]),
        413,
        "body_too_large",
    ),
}


CASES = [("/v1/operations", OPS, case) for case in REFUSALS.values()] + [
    ("/v1/state", ORACLE_STATE.name, case) for case in STATE_REFUSALS.values()
]
CASE_IDS = [f"operations: {name}" for name in REFUSALS] + [f"state: {n}" for n in STATE_REFUSALS]


@pytest.mark.parametrize(("path", "topic", "case"), CASES, ids=CASE_IDS)
async def test_refused_requests_say_why_and_publish_nothing(
    http: httpx.AsyncClient, endpoints: Endpoints, path: str, topic: str, case: Refusal
) -> None:
    users = [ol.new_user(), ol.new_user()]
    headers, content = case.build(users)
    before = _sample("oracle_logger_rejected_requests_total", endpoint=path, reason=case.error)

    response = await http.post(path, content=content, headers=headers)

    assert response.status_code == case.status, response.text
    answer = response.json()
    assert answer["error"] == case.error, answer
    assert answer["message"], answer
    assert case.message_has in answer["message"], answer
    if case.item_errors is not None:
        listed = {(e["index"], e["name"]) for e in answer["errors"]}
        assert set(case.item_errors) <= listed, f"expected {case.item_errors} in {answer}"
        assert all(e["message"] for e in answer["errors"]), answer
        assert all(set(e) == {"in", "name", "index", "message"} for e in answer["errors"])
    if case.status == 401:
        assert "WWW-Authenticate" in response.headers
    after = _sample("oracle_logger_rejected_requests_total", endpoint=path, reason=case.error)
    assert after - before == 1, "the rejection metric did not count it"
    await ol.prove_nothing_published(http, endpoints.kafka_bootstrap_servers, topic, users)


async def test_the_default_scope_allows_balance_checks(
    http: httpx.AsyncClient, endpoints: Endpoints
) -> None:
    user = ol.new_user()
    check = ol.operation(user, oracle_id=ol.OTHER_ORACLE, action="BALANCE_CHECK")
    response = await http.post(
        "/v1/operations",
        content=ol.body_of(check),
        headers=ol.bearer(ol.OTHER_ORACLE, ol.OTHER_TOKEN),
    )
    assert response.status_code == 202, response.text
    records = await ol.published(endpoints.kafka_bootstrap_servers, OPS, {user})
    assert [(r["action"], r["oracle_id"]) for r in records] == [("BALANCE_CHECK", ol.OTHER_ORACLE)]


async def test_states_reach_the_compacted_topic_keyed_by_user(
    http: httpx.AsyncClient, endpoints: Endpoints
) -> None:
    users = [ol.new_user(), ol.new_user()]
    states = [ol.user_state(u) for u in users]
    body = ol.body_of(states)
    response = await http.post("/v1/state", content=body, headers=ol.signed(body))
    assert response.status_code == 202, response.text
    assert response.json() == {"accepted": users}
    records = await ol.published(endpoints.kafka_bootstrap_servers, ORACLE_STATE.name, set(users))
    assert sorted(r["user_address"] for r in records) == sorted(users)
    assert all(r["schema"] == "oracle.user_state/v1" for r in records)


async def test_client_raises_on_refusal_without_retrying(app: FastAPI) -> None:
    transport = ol.TimeoutAfterForwarding(httpx.ASGITransport(app=app), failures=0)
    bad = OracleOperation.model_validate(ol.operation(ol.new_user()))
    async with OracleLoggerClient(
        ol.BASE_URL, ol.ORACLE, token="tok-" + "2" * 32, transport=transport
    ) as client:
        await client.log_operation(bad)
        with pytest.raises(OracleLoggerRejected) as refused:
            await client.flush()
    assert refused.value.status == 401
    assert transport.statuses == [401], "a 4xx must not be retried"


async def test_probes_and_metrics_are_served(http: httpx.AsyncClient) -> None:
    ready = await http.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"] == {"kafka": "ok", "producer": "ok", "database": "ok"}
    scraped = (await http.get("/metrics")).text
    for name in (
        "oracle_logger_accepted_items_total",
        "oracle_logger_rejected_requests_total",
        "oracle_logger_publish_seconds_bucket",
    ):
        assert name in scraped, f"{name} missing from /metrics"
    assert json.loads((await http.get("/healthz")).text) == {"status": "up"}
