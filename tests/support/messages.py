"""Valid messages to publish straight onto the topics, and hostile variants of them."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from aiokafka import AIOKafkaProducer
from devstack.deploy import DeploymentRecord
from reservesync.contracts import SystemContract
from reservesync.messages import ChainEvent, make_event_id


def random_hash() -> str:
    return "0x" + secrets.token_hex(32)


def deposited(deployment: DeploymentRecord, user: str, amount_wei: int) -> ChainEvent:
    """A FeeVault.Deposited event as the chain-listener would publish it (a made-up tx)."""
    tx_hash = random_hash()
    return ChainEvent(
        event_id=make_event_id(deployment.chain_id, tx_hash, 0),
        chain_id=deployment.chain_id,
        block_number=10**9,
        block_hash=random_hash(),
        block_timestamp=datetime.now(UTC),
        tx_hash=tx_hash,
        tx_index=0,
        log_index=0,
        contract=SystemContract.FEE_VAULT,
        address=deployment.contracts[SystemContract.FEE_VAULT].address,
        event="Deposited",
        args={"user": user.lower(), "amount": str(amount_wei)},
    )


async def publish(
    bootstrap: str, topic: str, records: list[tuple[bytes | None, bytes | None]]
) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all")
    await producer.start()
    try:
        for key, value in records:
            await producer.send_and_wait(topic, value, key=key)
    finally:
        await producer.stop()
