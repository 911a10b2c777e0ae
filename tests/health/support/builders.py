"""Messages of a small world, as the chain-listener and the oracle-logger would publish them."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

from devstack.deploy import DeploymentRecord
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
)

from tests.support.messages import T0, chain_event, random_hash, synced

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
