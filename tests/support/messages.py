"""Valid messages to publish straight onto the topics, and hostile variants of them."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import UTC, datetime

from devstack.deploy import DeploymentRecord
from reservesync import kafka
from reservesync.contracts import SystemContract
from reservesync.messages import ChainEvent, make_event_id
from reservesync.settings import KafkaSettings

T0 = datetime(2025, 9, 12, 9, 0, tzinfo=UTC)
"""When the made-up world happens, unless a test says otherwise."""


def random_hash() -> str:
    return "0x" + secrets.token_hex(32)


def chain_event(
    deployment: DeploymentRecord,
    contract: SystemContract,
    event: str,
    args: dict[str, str | bool],
    *,
    tx_hash: str | None = None,
    log_index: int = 0,
    block_number: int = 10**9,
    block_hash: str | None = None,
    at: datetime | None = None,
) -> ChainEvent:
    """An event as the chain-listener would publish it, from a made-up transaction."""
    tx_hash = tx_hash or random_hash()
    return ChainEvent(
        event_id=make_event_id(deployment.chain_id, tx_hash, log_index),
        chain_id=deployment.chain_id,
        block_number=block_number,
        block_hash=block_hash or random_hash(),
        block_timestamp=at or datetime.now(UTC),
        tx_hash=tx_hash,
        tx_index=0,
        log_index=log_index,
        contract=contract,
        address=deployment.contracts[contract].address,
        event=event,
        args=args,
    )


def synced_args(user: str, new: int, delta: int, fee: int) -> dict[str, str | bool]:
    """`Synced`'s arguments as the listener decodes them (a burn's balance half has no fee)."""
    return {
        "user": user,
        "newBalanceSats": str(new),
        "deltaSats": str(delta),
        "feeWei": str(fee),
        "height": "0" if fee == 0 else "840000",
        "timestamp": "1757667600",
    }


def synced(
    deployment: DeploymentRecord,
    user: str,
    new: int,
    delta: int,
    *,
    fee: int = 10**15,
    block: int = 100,
    block_hash: str | None = None,
    log_index: int = 0,
    tx_hash: str | None = None,
    at: datetime = T0,
) -> ChainEvent:
    """A committee sync; `fee=0` with `new=0` is the balance half of an emergency burn."""
    return chain_event(
        deployment,
        SystemContract.ORACLE_AGGREGATOR,
        "Synced",
        synced_args(user, new, delta, fee),
        block_number=block,
        block_hash=block_hash,
        log_index=log_index,
        tx_hash=tx_hash,
        at=at,
    )


def deposited(deployment: DeploymentRecord, user: str, amount_wei: int) -> ChainEvent:
    return chain_event(
        deployment,
        SystemContract.FEE_VAULT,
        "Deposited",
        {"user": user.lower(), "amount": str(amount_wei)},
    )


async def publish(
    bootstrap: str, topic: str, records: Sequence[tuple[bytes | None, bytes | None]]
) -> None:
    """Publish records in order with the services' own producer settings (idempotent,
    acks=all), batched: every ack is awaited once all are sent."""
    producer = kafka.producer(KafkaSettings(kafka_bootstrap_servers=bootstrap), linger_ms=20)
    await producer.start()
    try:
        futures = [await producer.send(topic, value, key=key) for key, value in records]
        for future in futures:
            await future
    finally:
        await producer.stop()
