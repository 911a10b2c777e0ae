"""The two pipelines the demo runs over the same chain: the seed's (only `Synced` indexed, the
oracle's side never imported, operations never logged) and ours, reached the way an operator
would fix the seed's: backfill what the narrow listener skipped, widen it, let the writer take
every topic, turn the oracle's logging on and reconcile."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable, Mapping

from chain_listener import checkpoint
from devstack import services
from devstack.paths import log_dir
from reservesync.settings import KafkaSettings
from reservesync.topics import CHAIN_EVENTS, REGISTRY

from scenarios.oracle.bitcoin import ConfirmedBalances
from scenarios.pipeline_settled import LISTENER_ID

SYNCED = "OracleAggregator.Synced"
# Hardhat mines a block per transaction and never reorganises, so the demo publishes at once.
DEMO_CHAIN = {"CHAIN_CONFIRMATIONS": "0", "CHAIN_POLL_INTERVAL_S": "0.2"}
LEGACY = {
    "CHAIN_EVENTS_INCLUDE": SYNCED,
    "WRITER_TOPICS": f"{CHAIN_EVENTS.name},{REGISTRY.name}",
}
LEGACY_WRITER_TOPICS = [CHAIN_EVENTS.name, REGISTRY.name]


def bitcoin_following(oracle_reads: ConfirmedBalances) -> dict[str, str]:
    """The bitcoin-listener of ours: the oracle's confirmations, from the block where the
    oracle's world began (no verified address was paid before it)."""
    return {
        "BTC_CONFIRMATIONS": str(oracle_reads.confirmations),
        "BITCOIN_START_HEIGHT": str(oracle_reads.from_height),
        "BITCOIN_POLL_INTERVAL_S": "0.2",
    }


async def published_through(env: Mapping[str, str]) -> int:
    """The last block the main listener published (its checkpoint, committed with the events)."""
    key = f"{LISTENER_ID}/{env['CHAIN_ID']}".encode()
    saved = await checkpoint.load(
        KafkaSettings(kafka_bootstrap_servers=env["KAFKA_BOOTSTRAP_SERVERS"]), key
    )
    if saved is None:
        raise RuntimeError("the listener has published nothing yet")
    return saved.next_block - 1


async def backfill_skipped(
    env: Mapping[str, str], start_block: int, end_block: int, say: Callable[[str], None]
) -> None:
    """Publish every event but `Synced` of blocks start..end with a listener of its own
    (own checkpoint), which exits when done; with the narrow listener's `Synced` of the same
    blocks, every event is then on the topic exactly once."""
    spec = services.SERVICES["chain-listener"]
    overrides = {
        **DEMO_CHAIN,
        "CHAIN_TRANSACTIONAL_ID": "chain-listener-backfill",
        "CHAIN_START_BLOCK": str(start_block),
        "CHAIN_END_BLOCK": str(end_block),
        "CHAIN_EVENTS_EXCLUDE": SYNCED,
        "CHAIN_PROGRESS_INTERVAL_S": "1",
    }
    # Port 0: no metrics server for a process that lives seconds.
    environment = {**os.environ, **services.environment(spec, env, 0), **overrides}
    log_path = log_dir() / "chain-listener-backfill.log"
    say(f"  backfilling blocks {start_block}..{end_block} without Synced (log: {log_path})")
    with log_path.open("ab") as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", spec.module, env=environment, stdout=log, stderr=log
        )
        code = await asyncio.wait_for(process.wait(), timeout=600)
    if code != 0:
        raise RuntimeError(f"the backfill exited with {code}; see {log_path}")
