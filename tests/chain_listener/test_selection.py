"""Narrowed listeners: one publishing only `Synced` (as the seed's pipeline did) and a backfill
of everything else up to where it stopped publish, between them, every event exactly once;
the backfill ends by itself at its end block."""

from __future__ import annotations

import asyncio

import pytest
from chain_listener.config import Settings
from chain_listener.listener import ChainListener
from chain_listener.selection import EventSelection, parse_event_names
from devstack.protocol import Protocol
from reservesync.topics import CHAIN_EVENTS

from tests.chain_listener.support import kafka_records, protocol_script
from tests.chain_listener.support import listener_harness as harness
from tests.support.stack import Endpoints

SYNCED = "OracleAggregator.Synced"


def test_names_are_checked_against_the_abis() -> None:
    assert parse_event_names([" OracleAggregator.Synced", "Transfer", ""]) == {SYNCED, "Transfer"}
    with pytest.raises(ValueError, match="no such event"):
        parse_event_names(["OracleAggregator.Transfer"])
    with pytest.raises(ValueError, match="no system contract"):
        parse_event_names(["Synched"])


def test_include_then_exclude() -> None:
    narrow = EventSelection(include=frozenset({SYNCED}))
    assert narrow.wants("OracleAggregator", "Synced")
    assert not narrow.wants("OracleAggregator", "EmergencyBurn")
    rest = EventSelection(exclude=frozenset({SYNCED}))
    assert not rest.wants("OracleAggregator", "Synced")
    assert rest.wants("RBTCSynth", "Transfer")
    by_name = EventSelection(exclude=frozenset({"Transfer"}))
    assert not by_name.wants("VaultWrBTC", "Transfer")
    assert not by_name.wants("RBTCSynth", "Transfer")
    assert EventSelection().everything


def test_settings_parse_lists_and_refuse_unknown_events(endpoints: Endpoints) -> None:
    settings = harness.dev_chain_listener(
        endpoints, "selection-settings", chain_events_include="OracleAggregator.Synced, Transfer"
    )
    assert settings.chain_events_include == [SYNCED, "Transfer"]
    with pytest.raises(ValueError, match="no such event"):
        harness.dev_chain_listener(endpoints, "selection-bad", chain_events_exclude="FeeVault.Nope")
    with pytest.raises(ValueError, match="CHAIN_END_BLOCK"):
        harness.dev_chain_listener(endpoints, "selection-end", chain_end_block=0)


async def test_narrow_listener_plus_backfill_publish_every_event_once(
    endpoints: Endpoints, protocol: Protocol
) -> None:
    narrow = harness.dev_chain_listener(endpoints, "narrow", chain_events_include=SYNCED)
    start = narrow.chain_start_block
    cursor = await kafka_records.TopicCursor.at_end(
        endpoints.kafka_bootstrap_servers, CHAIN_EVENTS.name
    )
    async with harness.running(narrow) as listener:
        steps = await asyncio.to_thread(protocol_script.ProtocolScript(protocol).run)
        await harness.published_through(narrow, steps[-1].receipt["blockNumber"], listener=listener)
    saved = await harness.saved_checkpoint(narrow)
    assert saved is not None
    end = saved.next_block - 1

    def backfill(purpose: str, **selection: str) -> Settings:
        return harness.listener_settings(
            endpoints.kafka_bootstrap_servers,
            endpoints.rpc_url,
            endpoints.deployment,
            transactional_id=harness.unique_id(purpose),
            start_block=start,
            chain_end_block=end,
            **selection,
        )

    rest, everything = backfill("rest", chain_events_exclude=SYNCED), backfill("everything")
    # Both end by themselves: no stop event is ever set.
    never = asyncio.Event()
    await asyncio.wait_for(ChainListener(rest).run(never), timeout=120)
    await asyncio.wait_for(ChainListener(everything).run(never), timeout=120)

    records = await cursor.read()

    def event_ids(settings: Settings) -> list[str]:
        mine = [r for r in records if r.producer == settings.producer_transactional_id]
        return [m["event_id"] for m in kafka_records.of_schema(mine, "chain.event/v1")]

    def names(settings: Settings) -> set[str]:
        mine = [r for r in records if r.producer == settings.producer_transactional_id]
        return {
            f"{m['contract']}.{m['event']}" for m in kafka_records.of_schema(mine, "chain.event/v1")
        }

    narrow_ids, rest_ids, all_ids = event_ids(narrow), event_ids(rest), event_ids(everything)
    assert names(narrow) == {SYNCED}
    assert SYNCED not in names(rest)
    assert len(names(rest)) > 10
    assert len(all_ids) == len(set(all_ids)), "the full backfill published an event twice"
    assert not set(narrow_ids) & set(rest_ids), "an event was published by both"
    assert sorted(narrow_ids + rest_ids) == sorted(all_ids)
    finished = await harness.saved_checkpoint(rest)
    assert finished is not None
    assert finished.next_block == end + 1
