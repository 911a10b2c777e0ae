"""Two oracle-logger processes (replicas) sharing the database, over real HTTP, Kafka and
PostgreSQL: the idempotency state and the used signatures hold across replicas and restarts,
stalled bodies are cut off, and hostile bodies get a 400, never a 500."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from devstack import services
from oracle_logger.publishing import digest
from reservesync.messages import OracleOperation
from reservesync.topics import ORACLE_OPERATIONS

from tests.oracle_logger.support import harness as ol
from tests.support.slow_bodies import many_slow_bodies
from tests.support.stack import Endpoints
from tests.support.waiting import eventually

OPS = ORACLE_OPERATIONS.name
PREFIXES = ("ol-replica-a", "ol-replica-b")
BODY_TIMEOUT_S = 3.0
SETTINGS = {
    "ORACLE_MAX_BODY_BYTES": str(1024 * 1024),  # room for a 100k-level nesting
    "HTTP_BODY_TIMEOUT_S": str(BODY_TIMEOUT_S),
    "ORACLE_PRUNE_INTERVAL_S": "1",
}


def _start(endpoints: Endpoints, prefix: str) -> str:
    env = ol.process_environment(**SETTINGS)
    return services.start(["oracle-logger"], env, stack=endpoints.env(), prefix=prefix)[
        "ORACLE_LOGGER_URL"
    ]


@pytest.fixture(scope="module")
def replicas(endpoints: Endpoints) -> Iterator[list[str]]:
    # A process left by an interrupted run would keep its old configuration: replace it.
    for prefix in PREFIXES:
        services.stop(["oracle-logger"], prefix=prefix)
    try:
        yield [_start(endpoints, prefix) for prefix in PREFIXES]
    finally:
        for prefix in PREFIXES:
            services.stop(["oracle-logger"], prefix=prefix)


async def _post(url: str, items: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    body = items if isinstance(items, bytes) else ol.body_of(items)
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        return await http.post("/v1/operations", content=body, headers=headers or ol.bearer())


async def _published(endpoints: Endpoints, user: str) -> list[dict[str, Any]]:
    return await ol.published(endpoints.kafka_bootstrap_servers, OPS, {user})


async def test_other_content_on_another_replica_is_a_conflict(
    replicas: list[str], endpoints: Endpoints
) -> None:
    a, b = replicas
    user = ol.new_user()
    original = ol.operation(user)
    assert (await _post(a, original)).status_code == 202

    conflict = await _post(b, {**original, "amount_sats": 1})
    assert conflict.status_code == 409, conflict.text
    assert conflict.json()["error"] == "operation_id_conflict"
    retry = await _post(b, original)
    assert retry.status_code == 202, retry.text
    assert retry.json()["already_accepted"] == [original["operation_id"]]
    assert [r["amount_sats"] for r in await _published(endpoints, user)] == [125_000]


async def test_the_conflict_survives_a_restart(replicas: list[str], endpoints: Endpoints) -> None:
    user = ol.new_user()
    original = ol.operation(user)
    assert (await _post(replicas[0], original)).status_code == 202
    services.stop(["oracle-logger"], prefix=PREFIXES[0])
    restarted = _start(endpoints, PREFIXES[0])
    replicas[0] = restarted

    conflict = await _post(restarted, {**original, "reason": "rewritten"})
    assert conflict.status_code == 409, conflict.text
    retry = await _post(restarted, original)
    assert retry.status_code == 202, retry.text
    assert retry.json()["already_accepted"] == [original["operation_id"]]
    assert len(await _published(endpoints, user)) == 1


async def test_a_signed_request_replayed_to_the_other_replica_is_refused(
    replicas: list[str], endpoints: Endpoints
) -> None:
    user = ol.new_user()
    body = ol.body_of([ol.operation(user)])
    headers = ol.signed(body)
    assert (await _post(replicas[0], body, headers)).status_code == 202
    for url in replicas:
        replay = await _post(url, body, headers)
        assert replay.status_code == 401, replay.text
        assert replay.json()["error"] == "replayed_signature"
    assert len(await _published(endpoints, user)) == 1


async def test_recorded_but_never_published_is_published_by_an_identical_retry(
    replicas: list[str], endpoints: Endpoints
) -> None:
    """The state a crash between recording an id and Kafka's acknowledgement leaves behind:
    the retry of the same content is accepted and published; other content stays a 409."""
    user = ol.new_user()
    original = ol.operation(user)
    value = OracleOperation.model_validate(original).to_json()
    db = await asyncpg.connect(endpoints.migrator_url)
    try:
        await db.execute(
            "INSERT INTO oracle_intake (operation_id, content_digest, oracle_id) "
            "VALUES ($1, $2, $3)",
            original["operation_id"],
            digest(value),
            ol.ORACLE,
        )
        assert (await _post(replicas[1], {**original, "amount_sats": 7})).status_code == 409
        retry = await _post(replicas[1], original)
        assert retry.status_code == 202, retry.text
        assert retry.json()["already_accepted"] == [], "it was never published: publish it"
        marked = await db.fetchval(
            "SELECT published_at IS NOT NULL FROM oracle_intake WHERE operation_id = $1",
            original["operation_id"],
        )
        assert marked, "the acknowledged publication must be recorded"
    finally:
        await db.close()
    assert [r["operation_id"] for r in await _published(endpoints, user)] == [
        original["operation_id"]
    ]


async def test_expired_signatures_and_old_ids_are_pruned(
    replicas: list[str], endpoints: Endpoints
) -> None:
    db = await asyncpg.connect(endpoints.migrator_url)
    expired, old_id = f"{ol.ORACLE}:sha256={'0' * 64}", f"op-old-{ol.new_user()}"
    try:
        await db.execute(
            "INSERT INTO oracle_used_signatures VALUES ($1, $2)",
            expired,
            datetime.now(UTC) - timedelta(seconds=1),
        )
        await db.execute(
            "INSERT INTO oracle_intake (operation_id, content_digest, oracle_id, first_seen) "
            "VALUES ($1, $2, $3, $4)",
            old_id,
            "0" * 64,
            ol.ORACLE,
            datetime.now(UTC) - timedelta(days=366),
        )

        async def gone() -> bool:
            left = await db.fetchval(
                "SELECT (SELECT count(*) FROM oracle_used_signatures WHERE signature = $1)"
                " + (SELECT count(*) FROM oracle_intake WHERE operation_id = $2)",
                expired,
                old_id,
            )
            return bool(left == 0)

        await eventually(gone, within=60, what="the expired rows to be pruned")
    finally:
        await db.close()


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "invalid_json"),
        (b'{"a": ' * 100_000 + b"1" + b"}" * 100_000, "invalid_json"),
        (b"[" + b"9" * 5000 + b"]", "invalid_json"),
        (b'[{"x": "\\ud800"', "invalid_json"),
    ],
    ids=["100k nested arrays", "100k nested objects", "5000-digit number", "truncated"],
)
async def test_hostile_bodies_get_a_400_on_the_real_process(
    replicas: list[str], body: bytes, error: str
) -> None:
    response = await _post(replicas[0], body)
    assert response.status_code == 400, response.text
    assert response.json()["error"] == error
    assert response.json()["message"]


@pytest.mark.parametrize("field", ["reason", "bitcoin_address"])
@pytest.mark.parametrize("escape", ["\\u0000", "\\ud800"], ids=["NUL", "lone surrogate"])
async def test_text_postgres_cannot_store_is_refused_at_the_edge(
    replicas: list[str], endpoints: Endpoints, field: str, escape: str
) -> None:
    user = ol.new_user()
    placeholder = "PLACEHOLDER-" + "x" * 20
    # Raw JSON, so the escape reaches the server exactly as an attacker would send it.
    body = json.dumps(ol.operation(user, **{field: placeholder})).replace(placeholder, escape)
    response = await _post(replicas[1], body.encode())
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_items"
    assert [e["name"] for e in response.json()["errors"]] == [field]
    async with httpx.AsyncClient(base_url=replicas[1]) as http:
        await ol.prove_nothing_published(http, endpoints.kafka_bootstrap_servers, OPS, [user])


async def test_stalled_bodies_are_cut_off_and_the_service_still_answers(
    replicas: list[str],
) -> None:
    url = replicas[1]
    outcomes = await many_slow_bodies(
        url, "POST", "/v1/operations", count=40, give_up_after_s=BODY_TIMEOUT_S + 30
    )
    still_open = [o for o in outcomes if o.closed_after_s is None]
    assert not still_open, f"{len(still_open)} of 40 slow bodies still open"
    assert {o.status for o in outcomes} == {408}, outcomes
    # Cut by the deadline, not before it (each trickled a byte every half second).
    assert min(o.closed_after_s or 0 for o in outcomes) >= BODY_TIMEOUT_S * 0.9, outcomes
    async with httpx.AsyncClient(base_url=url) as http:
        assert (await http.get("/readyz")).status_code == 200
    user = ol.new_user()
    assert (await _post(url, [ol.operation(user)])).status_code == 202
