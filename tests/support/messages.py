"""The one builder of made-up messages: chain events, reorgs, oracle states, operations and the
contract registry, as the chain-listener and the oracle-logger would publish them, and a
publisher that puts them straight onto the topics."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from devstack.deploy import DeploymentRecord
from reservesync import kafka
from reservesync.contracts import DeployedContract, SystemContract
from reservesync.messages import (
    BlockRef,
    ChainEvent,
    ChainReorg,
    KnownEmergencyBurn,
    Network,
    OperationStatus,
    OracleAction,
    OracleOperation,
    OracleUserState,
    RegisteredContract,
    WatchedBitcoinAddress,
    make_event_id,
)
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


AGGREGATOR = SystemContract.ORACLE_AGGREGATOR

# A deployment for tests that never touch the chain (addresses are only carried along).
OFFLINE = DeploymentRecord(
    chain_id=31337,
    deployer="0x" + "d" * 40,
    committee="0x" + "c" * 40,
    contracts={
        name: DeployedContract(address="0x" + f"{i + 1:040x}", deployed_block=1)
        for i, name in enumerate(SystemContract)
    },
)


def new_user() -> str:
    return "0x" + secrets.token_hex(20)


def emergency_burn(
    deployment: DeploymentRecord,
    user: str,
    sats: int,
    *,
    tx_hash: str,
    block: int = 100,
    block_hash: str | None = None,
) -> list[ChainEvent]:
    """`EmergencyBurn` then its balance-only `Synced(user, 0, -sats, 0, 0, now)`."""
    block_hash = block_hash or random_hash()
    return [
        chain_event(
            deployment,
            AGGREGATOR,
            "EmergencyBurn",
            {"user": user, "burnedAmount": str(sats), "reason": "Insufficient fees"},
            tx_hash=tx_hash,
            log_index=0,
            block_number=block,
            block_hash=block_hash,
            at=T0,
        ),
        synced(
            deployment,
            user,
            0,
            -sats,
            fee=0,
            block=block,
            block_hash=block_hash,
            log_index=1,
            tx_hash=tx_hash,
        ),
    ]


def reorg(fork_block: int, orphaned: list[str]) -> ChainReorg:
    return ChainReorg(
        chain_id=OFFLINE.chain_id,
        fork_block=fork_block,
        orphaned_block_hashes=orphaned,
        new_head=BlockRef(number=fork_block + 1, hash=random_hash()),
    )


def oracle_state(
    user: str,
    *,
    performed: int = 0,
    burns: list[KnownEmergencyBurn] | None = None,
    synced_sats: int = 0,
    addresses: int = 0,
    monitored: int = 0,
    as_of: datetime | None = None,
) -> OracleUserState:
    watched = [
        WatchedBitcoinAddress(
            address=f"tb1q{secrets.token_hex(19)}",
            network=Network.TESTNET,
            verified_at=T0,
            monitoring=i < monitored,
        )
        for i in range(addresses)
    ]
    return OracleUserState(
        user_address=user,
        bitcoin_addresses=watched,
        last_synced_sats=synced_sats,
        last_sync_at=T0,
        registered_at=T0,
        emergency_burns=burns or [],
        operations_performed=performed,
        as_of=as_of or datetime.now(UTC),
    )


def known_burn(sats: int, tx_hash: str | None, minutes: int = 0) -> KnownEmergencyBurn:
    return KnownEmergencyBurn(
        burned_sats=sats,
        reason="Insufficient fees",
        tx_hash=tx_hash,
        block_number=100 if tx_hash else None,
        occurred_at=T0 + timedelta(minutes=minutes),
    )


def operation(
    user: str,
    action: OracleAction = OracleAction.SYNC,
    *,
    operation_id: str | None = None,
    amount: int | None = None,
    tx_hash: str | None = None,
) -> OracleOperation:
    return OracleOperation(
        operation_id=operation_id or f"op-{secrets.token_hex(8)}",
        action=action,
        user_address=user,
        amount_sats=amount,
        tx_hash=tx_hash,
        reason="Insufficient fees" if action is OracleAction.EMERGENCY_BURN else None,
        consensus_reached=True,
        sources_used=["mempool.space"],
        status=OperationStatus.SUCCESS,
        occurred_at=T0,
        oracle_id="oracle-1",
    )


def registry(deployment: DeploymentRecord) -> list[RegisteredContract]:
    return [
        RegisteredContract(
            name=name,
            address=deployed.address,
            chain_id=deployment.chain_id,
            deployed_block=deployed.deployed_block,
            code_present=True,
            observed_at=datetime.now(UTC),
        )
        for name, deployed in deployment.contracts.items()
    ]


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
