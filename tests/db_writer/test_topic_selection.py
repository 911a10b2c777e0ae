"""A writer narrowed to some topics (as the seed's pipeline, which never imported the oracle's
side) writes only those; widened later, it writes the added topics from their beginning."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

import asyncpg
import pytest
from db_writer.config import SOURCE_TOPICS, Settings
from devstack import services
from devstack.protocol import Protocol
from reservesync.messages import OperationStatus, OracleAction, OracleOperation
from reservesync.topics import CHAIN_EVENTS, ORACLE_OPERATIONS

from tests.support.databases import FreshDatabase, offsets_written
from tests.support.messages import deposited, publish
from tests.support.stack import Endpoints
from tests.support.waiting import while_progressing


def _settings(**values: str) -> Settings:
    return Settings.model_validate({"field_encryption_key": "ab" * 32, **values})


def test_topics_are_a_checked_comma_separated_list() -> None:
    twice = f" {CHAIN_EVENTS.name},{CHAIN_EVENTS.name}"
    assert _settings(writer_topics=twice).writer_topics == [CHAIN_EVENTS.name]
    assert _settings().writer_topics == list(SOURCE_TOPICS)
    with pytest.raises(ValueError, match="not a source topic"):
        _settings(writer_topics="rbtc.alerts.v1")


@pytest.mark.timeout(1800)
async def test_a_topic_added_later_is_written_from_its_beginning(
    endpoints: Endpoints, fresh_database: FreshDatabase
) -> None:
    group, prefix = f"rbtc-db-writer-narrow-{secrets.token_hex(3)}", f"nw{secrets.token_hex(2)}"
    user = Protocol.new_user().lower()
    operation = OracleOperation(
        operation_id=f"op-{secrets.token_hex(8)}",
        action=OracleAction.USER_REGISTERED,
        user_address=user,
        consensus_reached=True,
        status=OperationStatus.SUCCESS,
        occurred_at=datetime.now(UTC),
        oracle_id="oracle-1",
    )
    await publish(
        endpoints.kafka_bootstrap_servers,
        ORACLE_OPERATIONS.name,
        [(user.encode(), operation.to_json())],
    )
    env = {"DATABASE_URL": fresh_database.writer_url, "WRITER_GROUP_ID": group}
    db = await asyncpg.connect(fresh_database.migrator_url)
    try:
        services.start(
            ["db-writer"],
            {**env, "WRITER_TOPICS": CHAIN_EVENTS.name},
            stack=endpoints.env(),
            prefix=prefix,
        )
        # The deposit, published after the operation, lands; the operation cannot.
        await publish(
            endpoints.kafka_bootstrap_servers,
            CHAIN_EVENTS.name,
            [(user.encode(), deposited(endpoints.deployment, user, 7).to_json())],
        )

        async def deposit_written() -> bool:
            return bool(
                await db.fetchval(
                    "SELECT count(*) = 1 FROM transactions WHERE user_address = $1", user
                )
            )

        # A new group reads the whole session's chain topic first: wait while it advances.
        await while_progressing(deposit_written, lambda: offsets_written(db), what="the deposit")
        assert await db.fetchval("SELECT count(*) FROM oracle_operations_log") == 0
        assert (
            await db.fetchval(
                "SELECT count(*) FROM sink_offsets WHERE topic = $1", ORACLE_OPERATIONS.name
            )
            == 0
        )
        services.stop(["db-writer"], prefix=prefix)

        services.start(["db-writer"], env, stack=endpoints.env(), prefix=prefix)

        async def operation_written() -> bool:
            return bool(
                await db.fetchval(
                    "SELECT count(*) = 1 FROM oracle_operations_log WHERE operation_id = $1",
                    operation.operation_id,
                )
            )

        await while_progressing(
            operation_written, lambda: offsets_written(db), what="the operation after widening"
        )
        assert (
            await db.fetchval("SELECT count(*) FROM transactions WHERE user_address = $1", user)
            == 1
        )
    finally:
        services.stop(["db-writer"], prefix=prefix)
        await db.close()
