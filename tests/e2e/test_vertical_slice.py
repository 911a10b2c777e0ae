"""The first vertical slice: a `sync()` on the chain becomes a `chain.event/v1` on Kafka and a
`transactions` row in Postgres, through the real chain-listener and db-writer processes."""

from __future__ import annotations

import json

import asyncpg
from devstack.protocol import Protocol
from reservesync.topics import CHAIN_EVENTS

from tests.support.stack import Endpoints
from tests.support.topics import read_all
from tests.support.waiting import eventually

FEE_DEPOSIT_WEI = 10**17


async def test_sync_reaches_kafka_and_postgres(
    pipeline: Endpoints, protocol: Protocol, db: asyncpg.Connection
) -> None:
    user = protocol.new_user()
    protocol.deposit_fees(user, FEE_DEPOSIT_WEI)
    expected_fee = protocol.quote_fees(user, 150_000)
    receipt = protocol.sync(user, 150_000)
    tx_hash = "0x" + bytes(receipt["transactionHash"]).hex()

    row = await eventually(
        lambda: db.fetchrow(
            "SELECT * FROM transactions WHERE user_address = $1 AND tx_type = 'MINT'",
            user.lower(),
        ),
        what=f"the MINT row of {user}",
    )
    assert row["amount"] == 150_000
    assert row["unit"] == "sats"
    assert row["balance_after_sats"] == 150_000
    assert row["fee_wei"] == expected_fee == 150_000 * 10**12 * 100 // 10_000 + 10**15
    assert row["tx_hash"] == tx_hash
    assert row["block_number"] == receipt["blockNumber"]
    assert row["contract"] == "OracleAggregator"
    assert row["event"] == "Synced"
    assert row["src_topic"] == CHAIN_EVENTS.name

    # The row names the message that made it, and that message is the decoded event.
    records = await read_all(pipeline.kafka_bootstrap_servers, CHAIN_EVENTS.name)
    made_it = [
        json.loads(value)
        for _, value, partition, offset in records
        if value and (partition, offset) == (row["src_partition"], row["src_offset"])
    ]
    assert len(made_it) == 1
    event = made_it[0]
    assert event["schema"] == "chain.event/v1"
    assert event["event_id"] == f"{pipeline.deployment.chain_id}:{tx_hash}:{row['log_index']}"
    assert event["args"] == {
        "user": user.lower(),
        "newBalanceSats": "150000",
        "deltaSats": "150000",
        "feeWei": str(expected_fee),
        "height": "0",
        "timestamp": event["args"]["timestamp"],
    }

    # Published once, written once: the user's events are on the topic exactly once each.
    user_events = [
        json.loads(v) for k, v, _, _ in records if k == user.lower().encode() and v is not None
    ]
    ids = [e["event_id"] for e in user_events]
    assert len(ids) == len(set(ids))
    assert {e["event"] for e in user_events} >= {"Deposited", "Spent", "Synced"}

    deposit = await db.fetchrow(
        "SELECT amount, unit FROM transactions WHERE user_address = $1 AND tx_type = 'DEPOSIT'",
        user.lower(),
    )
    assert deposit is not None
    assert (deposit["amount"], deposit["unit"]) == (FEE_DEPOSIT_WEI, "wei")
    assert await db.fetchval("SELECT count(*) FROM users WHERE address = $1", user.lower()) == 1
