"""Reorgs on a private Hardhat node (no interval mining): `evm_snapshot`/`evm_revert` replace
mined blocks, exactly as a competing fork would.

A deposit mined in block S+1 is orphaned by a revert to S, and another deposit of the same
user is mined in its place. What each partition's consumer then reads, in order, is the story.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
from reservesync.topics import ALERTS, CHAIN_EVENTS
from web3.types import TxReceipt

from tests.chain_listener.support import listener_harness as harness
from tests.chain_listener.support.chains import PRIVATE_CHAIN_ID, PrivateChain, hash_hex
from tests.chain_listener.support.kafka_records import Record, TopicCursor
from tests.support.stack import Endpoints

ORPHANED_WEI, CANONICAL_WEI = 10**15, 2 * 10**15


def read_in_order(records: list[Record], user: str) -> list[tuple[Any, ...]]:
    """Events of `user` and reorg notices of the partition `user`'s events are on, in order."""
    (partition,) = {r.partition for r in records if r.key == user.lower().encode()}
    told: list[tuple[Any, ...]] = []
    for record in records:
        if record.partition != partition:
            continue
        document = record.json()
        if document["schema"] == "chain.reorg/v1":
            told.append(("reorg", document["fork_block"], document["orphaned_block_hashes"]))
        else:
            told.append(("event", document["tx_hash"], document["args"]["amount"]))
    return told


def notices(records: list[Record]) -> dict[int, dict[str, Any]]:
    """The reorg notice of each partition (failing if a partition has more than one)."""
    found: dict[int, dict[str, Any]] = {}
    for record in records:
        if record.value is not None and record.json()["schema"] == "chain.reorg/v1":
            assert record.partition not in found, f"two notices on partition {record.partition}"
            found[record.partition] = record.json()
    return found


def told(receipt: TxReceipt, wei: int) -> tuple[str, str, str]:
    return ("event", hash_hex(receipt["transactionHash"]), str(wei))


class Scenario:
    """One test's listener on the private chain, its user's deposits, and what it published."""

    events: TopicCursor
    alerts: TopicCursor

    def __init__(self, endpoints: Endpoints, chain: PrivateChain, **settings: Any) -> None:
        self.chain = chain
        self.user = chain.protocol.new_user()
        self.bootstrap = endpoints.kafka_bootstrap_servers
        self.settings = harness.listener_settings(
            self.bootstrap,
            chain.rpc_url,
            chain.deployment,
            transactional_id=harness.unique_id("reorg"),
            start_block=chain.head() + 1,
            **settings,
        )

    @classmethod
    async def begin(cls, endpoints: Endpoints, chain: PrivateChain, **settings: Any) -> Scenario:
        run = cls(endpoints, chain, **settings)
        run.events = await TopicCursor.at_end(run.bootstrap, CHAIN_EVENTS.name)
        run.alerts = await TopicCursor.at_end(run.bootstrap, ALERTS.name)
        return run

    def deposit_to_orphan(self, confirmations: int = 0) -> tuple[str, TxReceipt]:
        """A deposit in block S+1 (with `confirmations` blocks on top), and snapshot S."""
        snapshot = self.chain.snapshot()
        receipt = self.chain.protocol.deposit_fees(self.user, ORPHANED_WEI)
        self.chain.mine(confirmations)
        return snapshot, receipt

    def replace(self, snapshot: str, confirmations: int = 0) -> TxReceipt:
        """Back to `snapshot`, and another deposit of the user mined in the orphan's place."""
        self.chain.revert(snapshot)
        receipt = self.chain.protocol.deposit_fees(self.user, CANONICAL_WEI)
        self.chain.mine(confirmations)
        return receipt

    async def until_published(self, receipt: TxReceipt, listener: Any = None) -> None:
        await harness.published_through(self.settings, receipt["blockNumber"], listener=listener)

    async def published_orphan(self, listener: Any) -> tuple[str, TxReceipt]:
        """`deposit_to_orphan()`, once the listener published it."""
        snapshot, receipt = self.deposit_to_orphan()
        await self.until_published(receipt, listener)
        return snapshot, receipt

    async def until_block_published(self, receipt: TxReceipt) -> None:
        await harness.published_block(self.settings, hash_hex(receipt["blockHash"]))

    async def published(self) -> list[Record]:
        return await self.events.read(self.settings.producer_transactional_id)

    async def alerts_raised(self) -> list[dict[str, Any]]:
        return await self.alerts.messages(self.settings.producer_transactional_id, "alert/v1")


def orphan_notice_canonical(orphaned: TxReceipt, canonical: TxReceipt) -> list[tuple[Any, ...]]:
    """The story of a reorg in order: the orphaned event, the notice, the replacement."""
    return [
        told(orphaned, ORPHANED_WEI),
        ("reorg", orphaned["blockNumber"], [hash_hex(orphaned["blockHash"])]),
        told(canonical, CANONICAL_WEI),
    ]


@pytest.mark.parametrize("listener_down_meanwhile", [False, True], ids=["running", "restarted"])
async def test_instant_delivery_tells_of_the_reorg_before_the_replacement(
    endpoints: Endpoints, private: PrivateChain, listener_down_meanwhile: bool
) -> None:
    run = await Scenario.begin(endpoints, private, chain_delivery="instant", chain_confirmations=3)
    async with harness.running(run.settings) as listener:
        snapshot, orphaned = await run.published_orphan(listener)
        if not listener_down_meanwhile:
            canonical = run.replace(snapshot)
            await run.until_block_published(canonical)
    if listener_down_meanwhile:
        # The same listener again: the block hashes in its checkpoint reveal the reorg.
        canonical = run.replace(snapshot)
        async with harness.running(run.settings):
            await run.until_block_published(canonical)
    records = await run.published()

    assert canonical["blockNumber"] == orphaned["blockNumber"]
    assert read_in_order(records, run.user) == orphan_notice_canonical(orphaned, canonical)
    every_partition = notices(records)
    assert sorted(every_partition) == list(range(CHAIN_EVENTS.partitions))
    fork, orphaned_hash = orphaned["blockNumber"], hash_hex(orphaned["blockHash"])
    for notice in every_partition.values():
        assert notice["chain_id"] == PRIVATE_CHAIN_ID
        assert (notice["fork_block"], notice["orphaned_block_hashes"]) == (fork, [orphaned_hash])
        assert notice["new_head"]["number"] >= fork - 1
    assert await run.alerts_raised() == [], "a reorg within the confirmations is no alert"


async def test_finalized_delivery_never_publishes_orphaned_blocks(
    endpoints: Endpoints, private: PrivateChain
) -> None:
    run = await Scenario.begin(endpoints, private, chain_confirmations=2)
    private.mine(1)  # a block before the fork: published while the orphan waits for finality
    async with harness.running(run.settings) as listener:
        snapshot, orphaned = run.deposit_to_orphan(confirmations=1)  # not final yet
        head = private.head()
        seen = await harness.checkpoint_where(
            run.settings,
            lambda saved: saved.head_seen >= head,
            f"head {head} seen",
            listener=listener,
        )
        assert seen.next_block == orphaned["blockNumber"], "published up to the fork, no further"
        canonical = run.replace(snapshot, confirmations=2)
        await run.until_block_published(canonical)
    records = await run.published()

    assert read_in_order(records, run.user) == [told(canonical, CANONICAL_WEI)]
    assert notices(records) == {}
    assert hash_hex(orphaned["transactionHash"]) not in {r.json()["tx_hash"] for r in records}


async def test_reorg_deeper_than_confirmations_raises_an_alert(
    endpoints: Endpoints, private: PrivateChain, caplog: pytest.LogCaptureFixture
) -> None:
    run = await Scenario.begin(endpoints, private, chain_confirmations=2)
    deep_before = harness.metric("chain_listener_deep_reorgs_total")
    with caplog.at_level(logging.ERROR, logger="chain_listener.listener"):
        async with harness.running(run.settings) as listener:
            snapshot, orphaned = run.deposit_to_orphan(confirmations=2)  # final: published
            await run.until_published(orphaned, listener)
            canonical = run.replace(snapshot, confirmations=3)
            await run.until_block_published(canonical)
    records, alerts = await run.published(), await run.alerts_raised()

    assert read_in_order(records, run.user) == orphan_notice_canonical(orphaned, canonical)
    assert len(notices(records)) == CHAIN_EVENTS.partitions
    assert len(alerts) == 1, alerts
    (alert,) = alerts
    fork, orphaned_hash = orphaned["blockNumber"], hash_hex(orphaned["blockHash"])
    assert alert["alert_id"] == f"chain-reorg:{PRIVATE_CHAIN_ID}:{fork}:{orphaned_hash}"
    assert (alert["kind"], alert["severity"], alert["state"]) == (
        "chain_reorg_beyond_confirmations",
        "critical",
        "firing",
    )
    assert alert["details"]["fork_block"] == fork
    assert alert["details"]["depth"] == 3  # head fork+2 was seen: three blocks deep
    assert alert["details"]["confirmations"] == 2
    assert harness.metric("chain_listener_deep_reorgs_total") == deep_before + 1
    assert any("reorg deeper than the confirmations" in r.getMessage() for r in caplog.records)
