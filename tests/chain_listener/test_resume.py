"""kill -9 in the middle of a backfill of thousands of events, twice, then a restart: the topic
holds every event exactly once, and the same process goes on to follow the head."""

from __future__ import annotations

from collections import Counter

from chain_listener.config import Settings
from devstack import services
from devstack.protocol import Protocol
from devstack.rpc_faults import Faults, FaultyRpcProxy
from reservesync.topics import CHAIN_EVENTS
from web3.contract import Contract

from tests.chain_listener.support import kafka_records
from tests.chain_listener.support import listener_harness as harness
from tests.chain_listener.support.chains import batch_user, deposit_for_many, hash_hex
from tests.support.stack import Endpoints
from tests.support.waiting import eventually

BATCHES, PER_BATCH = 12, 250
KILLS = 2
LISTENER = "chain-listener"


async def test_kill_minus_nine_mid_backfill_leaves_no_gap_and_no_duplicate(
    endpoints: Endpoints, protocol: Protocol, batch_depositor: Contract
) -> None:
    seed = int.from_bytes(harness.unique_id("seed").encode()[-8:], "big")
    settings = harness.dev_chain_listener(
        endpoints,
        "kill",
        chain_initial_block_range=1,
        chain_max_block_range=1,
        chain_prefetch_ranges=1,
    )
    receipts = [
        deposit_for_many(protocol, batch_depositor, seed + i, PER_BATCH) for i in range(BATCHES)
    ]
    last = receipts[-1]["blockNumber"]
    cursor = await kafka_records.TopicCursor.at_end(
        endpoints.kafka_bootstrap_servers, CHAIN_EVENTS.name
    )
    prefix = settings.chain_transactional_id
    # Latency and one block per range stretch the backfill over seconds, so the kills land
    # in its middle: with a transaction open, or between two.
    async with FaultyRpcProxy(endpoints.rpc_url, Faults(latency_s=0.08)) as slow_node:
        env = {**harness.environment(settings), "CHAIN_RPC_URL": slow_node.url}
        try:
            progress = settings.chain_start_block
            for _ in range(KILLS):
                services.start([LISTENER], env, stack=endpoints.env(), prefix=prefix)
                progress = await _published_past(settings, progress + 2)
                services.kill(LISTENER, prefix=prefix)
                killed_at = await harness.saved_checkpoint(settings)
                assert killed_at is not None
                assert killed_at.next_block <= last, "the kill must land mid-backfill"
            services.start([LISTENER], env, stack=endpoints.env(), prefix=prefix)
            await harness.published_through(settings, last, within=120)
            # Caught up, the same process follows the head.
            following = deposit_for_many(protocol, batch_depositor, seed + BATCHES, PER_BATCH)
            await harness.published_through(settings, following["blockNumber"], within=60)
        finally:
            services.stop([LISTENER], prefix=prefix)
    receipts.append(following)
    published = await cursor.messages(settings.producer_transactional_id, "chain.event/v1")

    mine = {hash_hex(r["transactionHash"]) for r in receipts}
    counts = Counter(e["event_id"] for e in published if e["tx_hash"] in mine)
    chain_id = endpoints.deployment.chain_id
    expected = {
        f"{chain_id}:{hash_hex(r['transactionHash'])}:{log['logIndex']}"
        for r in receipts
        for log in r["logs"]
    }
    assert len(expected) == (BATCHES + 1) * PER_BATCH
    assert sorted(expected - set(counts)) == [], "events lost across kill -9"
    assert sorted(i for i, n in counts.items() if n > 1) == [], "events published twice"
    users = {e["args"]["user"] for e in published if e["tx_hash"] in mine}
    assert users == {batch_user(seed + b, i) for b in range(BATCHES + 1) for i in range(PER_BATCH)}


async def _published_past(settings: Settings, block: int) -> int:
    """Wait for the running listener process to commit past `block`; returns where it is."""

    async def position() -> int:
        saved = await harness.saved_checkpoint(settings)
        return saved.next_block if saved is not None and saved.next_block > block else 0

    return await eventually(position, within=60, what=f"the listener process past block {block}")
