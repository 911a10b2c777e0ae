"""Kafka authentication and authorization on the real broker: every client authenticates, and
each service principal may do exactly its row of `reservesync.kafka_acl`.

Records these tests do manage to write go to places no consumer of the pipeline acts on (keys
of their own on the chain-listener's checkpoint topic, the DLQ's test-only keys, an alert)."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import (
    GroupAuthorizationFailedError,
    KafkaError,
    TopicAuthorizationFailedError,
    TransactionalIdAuthorizationFailed,
)
from faststream.kafka import KafkaBroker
from pydantic import SecretStr
from reservesync import kafka, kafka_access, kafka_acl, kafka_broker
from reservesync.kafka_access import Binding, Operation, PatternType, ResourceType
from reservesync.settings import KafkaSettings
from reservesync.topics import (
    ALERTS,
    CHAIN_CHECKPOINTS,
    CHAIN_EVENTS,
    DLQ,
    ORACLE_OPERATIONS,
    ORACLE_STATE,
    REGISTRY,
)

from tests.support.stack import Endpoints
from tests.support.waiting import eventually

BODY = b'{"schema": "test/v1"}'


def _as(endpoints: Endpoints, principal: str, password: str | None = None) -> KafkaSettings:
    creds = endpoints.kafka_credentials
    if "KAFKA_SASL_USERNAME" not in creds:
        pytest.fail("the stack's Kafka runs without authentication (no KAFKA_SASL_USERNAME)")
    if password is None:
        key = (
            "KAFKA_SASL_PASSWORD"
            if principal == kafka_acl.ADMIN
            else kafka_acl.password_env(principal)
        )
        password = creds[key]
    return KafkaSettings(
        kafka_bootstrap_servers=endpoints.kafka_bootstrap_servers,
        kafka_security_protocol="SASL_PLAINTEXT",
        kafka_sasl_mechanism="SCRAM-SHA-512",
        kafka_sasl_username=principal,
        kafka_sasl_password=SecretStr(password),
    )


async def _producer(settings: KafkaSettings, **options: str) -> AIOKafkaProducer:
    producer = kafka.producer(settings, **options)  # type: ignore[arg-type]
    await producer.start()
    return producer


@pytest.fixture
async def oracle_logger(endpoints: Endpoints) -> AsyncIterator[KafkaBroker]:
    """The oracle-logger's client as the service makes it: a FastStream broker."""
    broker = kafka_broker.broker(_as(endpoints, "oracle-logger"))
    await broker.start()
    yield broker
    await broker.stop()


async def _refused(producer: AIOKafkaProducer, topic: str) -> None:
    with pytest.raises(TopicAuthorizationFailedError):
        await producer.send_and_wait(topic, BODY, key=b"kafka-auth-test")


async def _list_topics(admin: AIOKafkaAdminClient) -> None:
    await admin.start()
    await admin.list_topics()


async def _join(consumer: AIOKafkaConsumer) -> None:
    await consumer.start()
    await consumer.getmany(timeout_ms=5000)


async def test_a_client_without_credentials_is_refused(endpoints: Endpoints) -> None:
    anonymous = KafkaSettings(
        kafka_bootstrap_servers=endpoints.kafka_bootstrap_servers,
        kafka_security_protocol="PLAINTEXT",
        kafka_sasl_username=None,
        kafka_sasl_password=None,
    )
    admin = kafka.admin(anonymous, request_timeout_ms=5000)
    with pytest.raises(KafkaError):
        await _list_topics(admin)
    await admin.close()


async def test_a_wrong_password_is_refused(endpoints: Endpoints) -> None:
    for principal in (kafka_acl.ADMIN, "chain-listener"):
        producer = kafka.producer(_as(endpoints, principal, secrets.token_urlsafe(18)))
        with pytest.raises(KafkaError):
            await producer.start()
        await producer.stop()
    broker = kafka_broker.broker(_as(endpoints, "oracle-logger", secrets.token_urlsafe(18)))
    with pytest.raises(KafkaError):
        await broker.start()
    await broker.stop()


async def test_the_oracle_logger_writes_only_the_oracle_topics(
    endpoints: Endpoints, oracle_logger: KafkaBroker
) -> None:
    for topic in (CHAIN_EVENTS, REGISTRY, ALERTS):
        with pytest.raises(TopicAuthorizationFailedError):
            await oracle_logger.publish(BODY, topic.name, key=b"kafka-auth-test")
    # Its own topics take its records (the DLQ here: an operation would reach the database).
    sent = await oracle_logger.publish(BODY, DLQ.name, key=b"kafka-auth-test")
    assert sent.offset >= 0


async def test_the_writer_reads_the_sources_and_writes_only_dead_letters(
    endpoints: Endpoints,
) -> None:
    settings = _as(endpoints, "db-writer")
    producer = await _producer(settings)
    try:
        await _refused(producer, CHAIN_EVENTS.name)
        await _refused(producer, ORACLE_OPERATIONS.name)
        await _refused(producer, ORACLE_STATE.name)
        assert (await producer.send_and_wait(DLQ.name, BODY, key=b"kafka-auth-test")).offset >= 0
    finally:
        await producer.stop()
    group = f"rbtc-db-writer-auth-{secrets.token_hex(3)}"
    reader = kafka.consumer(settings, CHAIN_EVENTS.name, group_id=group)
    await reader.start()
    try:
        await reader.getmany(timeout_ms=2000)
        assert reader.assignment(), "the writer's principal joined its group on the chain topic"
    finally:
        await reader.stop()
    stranger = kafka.consumer(settings, CHAIN_EVENTS.name, group_id=f"other-{group}")
    with pytest.raises(GroupAuthorizationFailedError):
        await _join(stranger)
    await stranger.stop()


async def test_health_writes_alerts_but_no_chain_events(endpoints: Endpoints) -> None:
    producer = await _producer(_as(endpoints, "health"))
    try:
        await _refused(producer, CHAIN_EVENTS.name)
        await _refused(producer, DLQ.name)
        sent = await producer.send_and_wait(ALERTS.name, BODY, key=b"kafka-auth-test")
        assert sent.offset >= 0
    finally:
        await producer.stop()


async def test_the_chain_listener_produces_in_transactions_of_its_own_prefix(
    endpoints: Endpoints,
) -> None:
    settings = _as(endpoints, "chain-listener")
    tid = f"chain-listener-auth-{secrets.token_hex(3)}"
    producer = await _producer(settings, transactional_id=tid)
    try:
        async with producer.transaction():
            await producer.send(CHAIN_CHECKPOINTS.name, BODY, key=tid.encode())
        await _refused(producer, ORACLE_OPERATIONS.name)
    finally:
        await producer.stop()
    foreign = kafka.producer(settings, transactional_id=f"oracle-logger-{secrets.token_hex(3)}")
    with pytest.raises(TransactionalIdAuthorizationFailed):
        await foreign.start()
    await foreign.stop()


async def _hold(
    held: Callable[[], Awaitable[dict[str, set[Binding]]]], bindings: list[Binding]
) -> bool:
    now = await held()
    return all(b in now[b.principal] for b in bindings)


async def test_applying_the_table_restores_exactly_its_rights(endpoints: Endpoints) -> None:
    """Rights granted by hand (the writer producing chain events; the oracle-logger allowed
    everything on every topic from one host) are revoked by the next `apply`, and applying
    twice changes nothing."""
    admin_settings = _as(endpoints, kafka_acl.ADMIN)
    strays = [
        Binding(
            "db-writer", ResourceType.TOPIC, CHAIN_EVENTS.name, PatternType.LITERAL, Operation.WRITE
        ),
        Binding(
            "oracle-logger",
            ResourceType.TOPIC,
            "rbtc.",
            PatternType.PREFIXED,
            Operation.ALL,
            "10.9.9.9",
        ),
    ]
    admin = kafka.admin(admin_settings)
    await admin.start()
    try:
        for stray in strays:
            await kafka_access.grant(admin, stray)

        async def held() -> dict[str, set[Binding]]:
            return {name: await kafka_access.granted(admin, name) for name in kafka_acl.PRINCIPALS}

        # ACL changes reach the brokers through the metadata log, a moment after the answer.
        await eventually(lambda: _hold(held, strays), what="the stray rights to be in force")
        await kafka_acl.apply(admin_settings, {})
        wanted = {name: p.bindings() for name, p in kafka_acl.PRINCIPALS.items()}

        async def exactly_the_table() -> bool:
            return await held() == wanted

        await eventually(exactly_the_table, what="each principal's ACLs to be its row")
        await kafka_acl.apply(admin_settings, {})
        assert await held() == wanted
    finally:
        await admin.close()
