"""Running a chain-listener of one test's own: unique transactional id (so its checkpoint and
its records are its own), in-process as an asyncio task or as a real process to kill -9."""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

from chain_listener import checkpoint
from chain_listener.checkpoint import Checkpoint
from chain_listener.config import Settings
from chain_listener.listener import ChainListener
from devstack.deploy import DeploymentRecord
from prometheus_client import REGISTRY
from reservesync.settings import KafkaSettings
from web3 import Web3

from tests.support.stack import Endpoints
from tests.support.waiting import eventually


def unique_id(purpose: str) -> str:
    # The chain-listener's Kafka principal may use only transactional ids with its prefix.
    return f"chain-listener-test-{purpose}-{secrets.token_hex(4)}"


def listener_settings(
    bootstrap: str,
    rpc_url: str,
    deployment: DeploymentRecord,
    *,
    transactional_id: str,
    start_block: int,
    **overrides: Any,
) -> Settings:
    """Settings as the environment would give them (names in capitals), fast-polling."""
    values: dict[str, Any] = {
        "kafka_bootstrap_servers": bootstrap,
        "chain_rpc_url": rpc_url,
        "chain_id": deployment.chain_id,
        "chain_contracts": {n.value: c.model_dump() for n, c in deployment.contracts.items()},
        "chain_transactional_id": transactional_id,
        "chain_start_block": start_block,
        "chain_confirmations": 1,
        "chain_poll_interval_s": 0.1,
        "chain_progress_interval_s": 1.0,
        "chain_rpc_timeout_s": 10.0,
        **overrides,
    }
    return Settings.model_validate(values)


def dev_chain_listener(endpoints: Endpoints, purpose: str, **overrides: Any) -> Settings:
    """A new listener of the dev chain, starting after its current head."""
    head = Web3(Web3.HTTPProvider(endpoints.rpc_url)).eth.block_number
    return listener_settings(
        endpoints.kafka_bootstrap_servers,
        endpoints.rpc_url,
        endpoints.deployment,
        transactional_id=unique_id(purpose),
        start_block=head + 1,
        **overrides,
    )


KAFKA_LOGIN = {"kafka_sasl_username", "kafka_sasl_password"}


def environment(settings: Settings) -> dict[str, str]:
    """The same settings as environment variables, for a listener process."""
    # The Kafka login is the stack's to give: each service process gets its own principal.
    values = settings.model_dump(mode="json", exclude={"chain_contracts_file", *KAFKA_LOGIN})
    return {
        name.upper(): value if isinstance(value, str) else json.dumps(value)
        for name, value in values.items()
        if value is not None
    }


@contextlib.asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[asyncio.Task[None]]:
    """A listener in this event loop until the block ends; a crash fails the test."""
    stop = asyncio.Event()
    task = asyncio.create_task(ChainListener(settings).run(stop), name="listener-under-test")
    try:
        yield task
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=30)


async def saved_checkpoint(settings: Settings) -> Checkpoint | None:
    return await checkpoint.load(_kafka(settings), settings.checkpoint_key)


async def checkpoint_where(
    settings: Settings,
    holds: Callable[[Checkpoint], bool],
    what: str,
    *,
    listener: asyncio.Task[None] | None = None,
    within: float = 60,
) -> Checkpoint:
    """Wait for a committed checkpoint of the listener for which `holds` is true; fails at
    once if the in-process `listener` stopped."""

    async def found() -> Checkpoint | None:
        if listener is not None and listener.done():
            listener.result()  # re-raise what stopped it
            raise AssertionError("the listener stopped by itself")
        saved = await saved_checkpoint(settings)
        return saved if saved is not None and holds(saved) else None

    checkpoint = await eventually(
        found, within=within, what=f"{settings.chain_transactional_id}: {what}"
    )
    assert checkpoint is not None
    return checkpoint


async def published_through(
    settings: Settings,
    block: int,
    *,
    listener: asyncio.Task[None] | None = None,
    within: float = 60,
) -> Checkpoint:
    """Wait until the listener's committed checkpoint is past `block`."""
    return await checkpoint_where(
        settings,
        lambda saved: saved.next_block > block,
        f"block {block} published",
        listener=listener,
        within=within,
    )


async def published_block(settings: Settings, block_hash: str) -> Checkpoint:
    """Wait until the listener's committed checkpoint counts `block_hash` among its blocks."""
    return await checkpoint_where(
        settings,
        lambda saved: block_hash in {b.hash for b in saved.recent_blocks},
        f"block {block_hash} published",
    )


def metric(name: str, labels: Mapping[str, str] | None = None) -> float:
    """A Prometheus sample of this process (listeners run in-process share the registry)."""
    return REGISTRY.get_sample_value(name, dict(labels or {})) or 0.0


def _kafka(settings: Settings) -> KafkaSettings:
    return KafkaSettings(kafka_bootstrap_servers=settings.kafka_bootstrap_servers)
