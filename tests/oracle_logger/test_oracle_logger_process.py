"""The oracle-logger as the real process (`python -m oracle_logger`), configured from its
environment, over real HTTP and the real Kafka."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from devstack import services
from oracle_logger.client import OracleLoggerClient, OracleLoggerRejected
from prometheus_client.parser import text_string_to_metric_families
from reservesync.messages import OracleOperation
from reservesync.topics import ORACLE_OPERATIONS

from tests.oracle_logger.support import harness as ol
from tests.support.stack import Endpoints

PREFIX = "ol-test"


@pytest.fixture(scope="module")
def base_url(endpoints: Endpoints) -> Iterator[str]:
    overrides = ol.process_environment()
    # A process left by an interrupted run would keep its old configuration: replace it.
    services.stop(["oracle-logger"], prefix=PREFIX)
    urls = services.start(["oracle-logger"], overrides, stack=endpoints.env(), prefix=PREFIX)
    try:
        yield urls["ORACLE_LOGGER_URL"]
    finally:
        services.stop(["oracle-logger"], prefix=PREFIX)


async def test_real_process_publishes_what_its_client_logs(
    base_url: str, endpoints: Endpoints
) -> None:
    users = [ol.new_user(), ol.new_user()]
    ops = [OracleOperation.model_validate(ol.operation(users[i % 2])) for i in range(6)]
    async with OracleLoggerClient(
        base_url, ol.ORACLE, hmac_key=ol.HMAC_KEY, batch_size=4
    ) as client:
        for op in ops:
            await client.log_operation(op)
        accepted = await client.flush()
    assert accepted == [op.operation_id for op in ops[4:]], "the first 4 went out as a full batch"
    records = await ol.published(
        endpoints.kafka_bootstrap_servers, ORACLE_OPERATIONS.name, set(users)
    )
    assert sorted(r["operation_id"] for r in records) == sorted(op.operation_id for op in ops)

    async with httpx.AsyncClient(base_url=base_url) as http:
        ready = await http.get("/readyz")
        assert ready.status_code == 200, ready.text
        scraped = (await http.get("/metrics")).text
    accepted_total = sum(
        sample.value
        for family in text_string_to_metric_families(scraped)
        for sample in family.samples
        if sample.name == "oracle_logger_accepted_items_total"
        and sample.labels == {"kind": "operation", "source": "push"}
    )
    assert accepted_total >= len(ops), scraped


async def test_real_process_refuses_bad_credentials_and_big_bodies(
    base_url: str, endpoints: Endpoints
) -> None:
    user = ol.new_user()
    async with OracleLoggerClient(base_url, ol.ORACLE, token="tok-" + "9" * 32) as client:
        await client.log_operation(OracleOperation.model_validate(ol.operation(user)))
        with pytest.raises(OracleLoggerRejected) as refused:
            await client.flush()
    assert refused.value.status == 401
    assert refused.value.body["error"] == "bad_token"

    big = ol.body_of([ol.operation(user, reason="x" * ol.MAX_BODY_BYTES)])
    async with httpx.AsyncClient(base_url=base_url) as http:
        response = await http.post("/v1/operations", content=big, headers=ol.bearer())
        assert response.status_code == 413, response.text
        assert response.json()["error"] == "body_too_large"
        await ol.prove_nothing_published(
            http, endpoints.kafka_bootstrap_servers, ORACLE_OPERATIONS.name, [user]
        )
