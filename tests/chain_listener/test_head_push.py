"""Head following by push: a `newHeads` subscription over WebSocket wakes the listener when a
block arrives, and polling takes over whenever the subscription is down or the node has none.

The poll intervals here are far longer than any wait, so a block published in time was found
through its notification (or, with the subscription down, through the fallback poll); and
every event is published exactly once however the notifications came."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

from chain_listener.config import Settings
from devstack import chain
from devstack.protocol import Protocol
from reservesync.topics import CHAIN_EVENTS
from web3.types import TxReceipt

from tests.chain_listener.support import kafka_records
from tests.chain_listener.support import listener_harness as harness
from tests.chain_listener.support.chains import free_port, hash_hex
from tests.chain_listener.support.heads_relay import HeadsRelay
from tests.support.stack import Endpoints
from tests.support.waiting import eventually

LONG_POLL_S = 120.0
"""No poll comes within any test's waits: what is published in time was pushed."""
PUSHED_WITHIN_S = 30.0
"""Generous for a busy machine, and still far below LONG_POLL_S."""
FALLBACK_POLL_S = 0.2


def push_listener(endpoints: Endpoints, purpose: str, ws_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "chain_ws_url": ws_url,
        "chain_poll_interval_s": LONG_POLL_S,
        "chain_ws_poll_interval_s": LONG_POLL_S,
        "chain_delivery": "instant",
        "chain_confirmations": 0,
        **overrides,
    }
    return harness.dev_chain_listener(endpoints, purpose, **values)


def subscriptions() -> float:
    return harness.metric("chain_listener_head_subscriptions_total")


def reconnects(reason: str) -> float:
    return harness.metric("chain_listener_head_reconnects_total", {"reason": reason})


def mode_in_use() -> str:
    push = harness.metric("chain_listener_head_source", {"mode": "push"})
    poll = harness.metric("chain_listener_head_source", {"mode": "poll"})
    assert push + poll == 1, f"exactly one mode is in use (push {push}, poll {poll})"
    return "push" if push else "poll"


async def counter_above(read: Any, before: float, what: str, within: float = 60) -> None:
    async def grew() -> bool:
        return bool(read() > before)

    await eventually(grew, within=within, what=what)


async def deposit(protocol: Protocol) -> TxReceipt:
    return await asyncio.to_thread(protocol.deposit_fees, protocol.new_user(), 10**15)


async def assert_each_once(
    cursor: kafka_records.TopicCursor, settings: Settings, receipts: list[TxReceipt]
) -> None:
    published = await cursor.messages(settings.producer_transactional_id, "chain.event/v1")
    ids = Counter(e["event_id"] for e in published)
    chain_id = settings.chain_id
    expected = {
        f"{chain_id}:{hash_hex(r['transactionHash'])}:{log['logIndex']}"
        for r in receipts
        for log in r["logs"]
    }
    assert expected - set(ids) == set(), "events lost"
    assert [i for i in ids if ids[i] > 1] == [], "events published twice"


async def test_a_new_block_is_published_on_its_notification_not_at_the_next_poll(
    endpoints: Endpoints, protocol: Protocol
) -> None:
    settings = push_listener(endpoints, "push", chain.websocket_url(endpoints.rpc_url))
    before = subscriptions()
    async with harness.running(settings) as listener:
        await counter_above(subscriptions, before, "the newHeads subscription")
        assert mode_in_use() == "push"
        receipt = await deposit(protocol)
        await harness.published_through(
            settings, receipt["blockNumber"], listener=listener, within=PUSHED_WITHIN_S
        )


async def test_repeated_and_missed_notifications_change_nothing(
    endpoints: Endpoints, protocol: Protocol
) -> None:
    cursor = await kafka_records.TopicCursor.at_end(
        endpoints.kafka_bootstrap_servers, CHAIN_EVENTS.name
    )
    async with HeadsRelay(chain.websocket_url(endpoints.rpc_url)) as relay:
        settings = push_listener(endpoints, "push-noisy", relay.url)
        before = subscriptions()
        async with harness.running(settings) as listener:
            await counter_above(subscriptions, before, "the newHeads subscription")
            relay.copies = 3
            receipts = [await deposit(protocol) for _ in range(3)]
            await harness.published_through(
                settings, receipts[-1]["blockNumber"], listener=listener, within=PUSHED_WITHIN_S
            )
            # A block nobody announced is found with the next one that is announced.
            relay.copies, relay.drop_next = 1, 1
            receipts += [await deposit(protocol) for _ in range(2)]
            await harness.published_through(
                settings, receipts[-1]["blockNumber"], listener=listener, within=PUSHED_WITHIN_S
            )
            assert relay.notifications_dropped == 1
    await assert_each_once(cursor, settings, receipts)


async def test_polling_takes_over_while_the_subscription_is_down_then_push_again(
    endpoints: Endpoints, protocol: Protocol
) -> None:
    cursor = await kafka_records.TopicCursor.at_end(
        endpoints.kafka_bootstrap_servers, CHAIN_EVENTS.name
    )
    async with HeadsRelay(chain.websocket_url(endpoints.rpc_url)) as relay:
        # The fallback polls quickly; a live subscription would let a block wait LONG_POLL_S.
        settings = push_listener(
            endpoints, "push-drop", relay.url, chain_poll_interval_s=FALLBACK_POLL_S
        )
        before = subscriptions()
        async with harness.running(settings) as listener:
            await counter_above(subscriptions, before, "the newHeads subscription")
            receipts = [await deposit(protocol)]
            await harness.published_through(
                settings, receipts[-1]["blockNumber"], listener=listener, within=PUSHED_WITHIN_S
            )

            dropped_before, resubscribed_before = reconnects("closed"), subscriptions()
            relay.refusing = True
            await relay.cut()
            await counter_above(lambda: reconnects("closed"), dropped_before, "the drop noticed")
            assert mode_in_use() == "poll"
            receipts += [await deposit(protocol) for _ in range(2)]
            await harness.published_through(
                settings, receipts[-1]["blockNumber"], listener=listener, within=PUSHED_WITHIN_S
            )
            assert subscriptions() == resubscribed_before, "published while the socket was down"

            relay.refusing = False
            await counter_above(subscriptions, resubscribed_before, "subscribed again")
            assert mode_in_use() == "push"
            receipts.append(await deposit(protocol))
            await harness.published_through(
                settings, receipts[-1]["blockNumber"], listener=listener, within=PUSHED_WITHIN_S
            )
    await assert_each_once(cursor, settings, receipts)


async def test_a_node_without_subscriptions_or_socket_is_polled(
    endpoints: Endpoints, protocol: Protocol
) -> None:
    async with HeadsRelay(chain.websocket_url(endpoints.rpc_url)) as relay:
        relay.without_subscriptions = True
        for ws_url, reason in (
            (relay.url, "refused"),
            (f"ws://127.0.0.1:{free_port()}", "connection"),  # nobody listens there
        ):
            settings = push_listener(
                endpoints, f"push-{reason}", ws_url, chain_poll_interval_s=FALLBACK_POLL_S
            )
            before = reconnects(reason)
            async with harness.running(settings) as listener:
                await counter_above(lambda r=reason: reconnects(r), before, f"{reason} counted")
                assert mode_in_use() == "poll"
                receipt = await deposit(protocol)
                await harness.published_through(
                    settings, receipt["blockNumber"], listener=listener, within=PUSHED_WITHIN_S
                )
