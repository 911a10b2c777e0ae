"""Publishes the contract registry (`registry.contract/v1`) the health and db-writer read."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from reservesync.contracts import Deployment
from reservesync.messages import RegisteredContract
from reservesync.topics import REGISTRY
from web3 import AsyncWeb3

from chain_listener.publisher import RangePublisher


async def publish_registry(
    w3: AsyncWeb3[Any], chain_id: int, deployment: Deployment, publisher: RangePublisher
) -> None:
    for name, contract in deployment.items():
        code = await w3.eth.get_code(AsyncWeb3.to_checksum_address(contract.address))
        record = RegisteredContract(
            name=name,
            address=contract.address,
            chain_id=chain_id,
            deployed_block=contract.deployed_block,
            code_present=len(code) > 0,
            observed_at=datetime.now(UTC),
        )
        await publisher.publish_one(REGISTRY.name, name.value.encode(), record)
