"""Fixtures of the chain-listener tests: the test-only contracts, a private chain for reorgs,
and a clean registry afterwards.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from devstack.deploy import DeploymentRecord
from devstack.protocol import Protocol
from reservesync import kafka
from reservesync.messages import RegisteredContract
from reservesync.settings import KafkaSettings
from reservesync.topics import REGISTRY
from web3 import Web3
from web3.contract import Contract

from tests.chain_listener.support.chains import (
    PrivateChain,
    compile_with_test_contracts,
    deploy_test_contract,
    private_chain,
)
from tests.support.stack import Endpoints


@pytest.fixture(autouse=True)
def pipeline_alongside(request: pytest.FixtureRequest) -> None:
    """The session's pipeline (listener and db-writer) runs while the tests on the stack run,
    as it would in production: the thousands of events they make are consumed as they come,
    instead of waiting as a backlog for whichever later test starts the db-writer. A test that
    needs no stack starts none."""
    if "endpoints" in request.fixturenames:
        request.getfixturevalue("pipeline")


@pytest.fixture(scope="session")
def contracts_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return compile_with_test_contracts(tmp_path_factory.mktemp("contracts-build"))


@pytest.fixture(scope="session")
def batch_depositor(protocol: Protocol, contracts_build: Path) -> Contract:
    """BatchDepositor on the dev chain: thousands of FeeVault events in a few transactions."""
    return deploy_test_contract(protocol.w3, contracts_build, "BatchDepositor")


@pytest.fixture(scope="session")
async def private(endpoints: Endpoints, contracts_build: Path) -> AsyncIterator[PrivateChain]:
    """A chain of the reorg tests' own. Listeners of it publish the registry of chain 31338
    under the contract names the dev chain's registry uses, so the dev chain's records are
    published again afterwards."""
    with private_chain(contracts_build, "test-private-hardhat") as chain:
        try:
            yield chain
        finally:
            await _republish_registry(endpoints)


@pytest.fixture
async def empty_private(endpoints: Endpoints, contracts_build: Path) -> AsyncIterator[PrivateChain]:
    """A private chain of one test's own, whose token supply is only what that test mints (the
    session's private chain carries the supply of the tests before)."""
    with private_chain(contracts_build, "test-empty-private-hardhat") as chain:
        try:
            yield chain
        finally:
            await _republish_registry(endpoints)


async def _republish_registry(endpoints: Endpoints) -> None:
    deployment: DeploymentRecord = endpoints.deployment
    w3 = Web3(Web3.HTTPProvider(endpoints.rpc_url))
    producer = kafka.producer(
        KafkaSettings(kafka_bootstrap_servers=endpoints.kafka_bootstrap_servers)
    )
    await producer.start()
    try:
        for name, contract in deployment.contracts.items():
            code = w3.eth.get_code(Web3.to_checksum_address(contract.address))
            record = RegisteredContract(
                name=name,
                address=contract.address,
                chain_id=deployment.chain_id,
                deployed_block=contract.deployed_block,
                code_present=len(code) > 0,
                observed_at=datetime.now(UTC),
            )
            await producer.send_and_wait(REGISTRY.name, record.to_json(), key=name.value.encode())
    finally:
        await producer.stop()
