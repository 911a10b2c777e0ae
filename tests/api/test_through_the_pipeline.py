"""The API over the session's live pipeline: messages published to Kafka, applied by the real
db-writer process, show up in the endpoints, and the reserves snapshot notices the change."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from devstack import services
from devstack.protocol import Protocol
from reservesync.contracts import SystemContract
from reservesync.messages import OracleUserState
from reservesync.messages.chain import ZERO_ADDRESS
from reservesync.topics import CHAIN_EVENTS, ORACLE_STATE

from tests.support.api_process import API, start_api
from tests.support.messages import chain_event, publish
from tests.support.stack import Endpoints
from tests.support.waiting import eventually


@pytest.fixture(scope="module")
def live_api(pipeline: Endpoints) -> Iterator[str]:
    try:
        yield start_api(
            pipeline, pipeline.database_urls["rs_api"], "apipipe", API_RATE_LIMIT_PER_S="0"
        )
    finally:
        services.stop([API], prefix="apipipe")


async def test_published_facts_reach_every_view(pipeline: Endpoints, live_api: str) -> None:
    user = Protocol.new_user().lower()
    now = datetime.now(UTC)
    synced = chain_event(
        pipeline.deployment,
        SystemContract.ORACLE_AGGREGATOR,
        "Synced",
        {
            "user": user,
            "newBalanceSats": "77000",
            "deltaSats": "77000",
            "feeWei": str(10**15),
            "height": "840000",
            "timestamp": "1757667600",
        },
        at=now,
    )
    # The mint the sync made: the Transfer of the same transaction, as the chain emits it.
    minted = chain_event(
        pipeline.deployment,
        SystemContract.RBTC_SYNTH,
        "Transfer",
        {"from": ZERO_ADDRESS, "to": user, "amount": "77000"},
        tx_hash=synced.tx_hash,
        log_index=synced.log_index + 1,
        block_number=synced.block_number,
        block_hash=synced.block_hash,
        at=now,
    )
    state = OracleUserState(
        user_address=user,
        bitcoin_addresses=[],
        last_synced_sats=77_000,
        last_sync_at=now,
        registered_at=now,
        emergency_burns=[],
        operations_performed=1,
        as_of=now,
    )
    async with httpx.AsyncClient(base_url=f"{live_api}/api/realtime", timeout=10) as http:
        before = (await http.get("/proof-of-reserves")).json()
        await publish(
            pipeline.kafka_bootstrap_servers,
            CHAIN_EVENTS.name,
            [(user.encode(), e.to_json()) for e in (synced, minted)],
        )
        await publish(
            pipeline.kafka_bootstrap_servers, ORACLE_STATE.name, [(user.encode(), state.to_json())]
        )

        async def in_sync() -> dict[str, Any] | None:
            body: dict[str, Any] = (await http.get("/sync-status", params={"address": user})).json()
            return body if body["status"] == "in_sync" else None

        status = await eventually(in_sync, within=60, what=f"{user} in sync through the pipeline")
        assert status is not None
        assert (status["database_sats"], status["oracle_sats"]) == (77_000, 77_000)

        async def minted_seen() -> dict[str, Any] | None:
            body: dict[str, Any] = (await http.get("/balances", params={"address": user})).json()
            return body if body["rbtc_sats"] == 77_000 else None

        balances = await eventually(minted_seen, within=60, what="the minted rBTC held")
        assert balances is not None
        assert (balances["synced_sats"], balances["wrbtc_sats"]) == (77_000, 0)
        assert balances["last_update"]["tx_hash"] == synced.tx_hash
        transactions = (await http.get("/transactions", params={"address": user})).json()
        assert [(t["type"], t["amount"]) for t in transactions["items"]] == [("MINT", "77000")]

        async def proven() -> dict[str, Any] | None:
            response = await http.get("/proof-of-reserves/proof", params={"address": user})
            if response.status_code != 200:
                return None
            body: dict[str, Any] = response.json()
            return body if body["balance_sats"] == 77_000 else None

        proof = await eventually(proven, within=60, what="the snapshot to count the new user")
        assert proof is not None
        assert proof["balance_sats"] == 77_000
        assert (proof["rbtc_sats"], proof["wrbtc_sats"], proof["synced_sats"]) == (
            77_000,
            0,
            77_000,
        )
        after = (await http.get("/proof-of-reserves")).json()
        assert after["as_of"] > before["as_of"]
        assert after["total_rbtc_sats"] >= before["total_rbtc_sats"] + 77_000
