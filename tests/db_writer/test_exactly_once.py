"""The db-writer against real Kafka and Postgres: duplicates change nothing, bad input goes to
the dead-letter topic with its reason, and the good messages around it still land."""

from __future__ import annotations

import base64
import hashlib
import json

import asyncpg
from devstack.protocol import Protocol
from reservesync.topics import CHAIN_EVENTS, DLQ

from tests.support.messages import deposited, publish
from tests.support.stack import Endpoints
from tests.support.topics import read_all
from tests.support.waiting import eventually


async def _counters_agree(db: asyncpg.Connection, table: str) -> bool:
    """The sink counters equal the table's rows, both read in one statement's snapshot (other
    tests' events may be landing meanwhile)."""
    agree = await db.fetchval(
        f"SELECT (SELECT count(*) FROM {table}) = (SELECT coalesce(sum(row_count), 0) "
        "FROM sink_counters WHERE table_name = $1)",
        table,
    )
    return bool(agree)


async def test_the_same_message_twice_writes_one_row(
    pipeline: Endpoints, db: asyncpg.Connection
) -> None:
    user = Protocol.new_user().lower()
    event = deposited(pipeline.deployment, user, 5 * 10**16)
    key = user.encode()
    await publish(pipeline.kafka_bootstrap_servers, CHAIN_EVENTS.name, [(key, event.to_json())])
    await eventually(
        lambda: db.fetchval("SELECT count(*) FROM transactions WHERE user_address = $1", user),
        what="the first copy's row",
    )
    await publish(
        pipeline.kafka_bootstrap_servers,
        CHAIN_EVENTS.name,
        [(key, event.to_json()), (key, deposited(pipeline.deployment, user, 7).to_json())],
    )
    # The second, different event proves the writer has gone past the duplicate.
    await eventually(
        lambda: db.fetchval("SELECT count(*) = 2 FROM transactions WHERE user_address = $1", user),
        what="the follow-up event's row",
    )
    rows = await db.fetch(
        "SELECT amount FROM transactions WHERE user_address = $1 ORDER BY amount", user
    )
    assert [r["amount"] for r in rows] == [7, 5 * 10**16]
    assert await _counters_agree(db, "transactions")


def _hostile(valid: dict[str, object]) -> dict[str, bytes]:
    def variant(**changes: object) -> bytes:
        return json.dumps({**valid, **changes}).encode()

    args = dict(valid["args"])  # type: ignore[call-overload]
    return {
        "not json": b"{this is not json",
        "not an object": b"[1, 2, 3]",
        "unknown schema": variant(schema="chain.event/v9"),
        "bad address": variant(args={**args, "user": "0x1234"}),
        "negative amount": variant(args={**args, "amount": "-5"}),
        "overflowing amount": variant(args={**args, "amount": str(2**256)}),
        "unknown event": variant(event="Minted"),
        "huge string": variant(event="x" * 1_000_000),
        "missing field": json.dumps({k: v for k, v in valid.items() if k != "block_hash"}).encode(),
    }


async def test_bad_input_goes_to_the_dlq_and_good_input_still_lands(
    pipeline: Endpoints, db: asyncpg.Connection
) -> None:
    user = Protocol.new_user().lower()
    good_before = deposited(pipeline.deployment, user, 11)
    good_after = deposited(pipeline.deployment, user, 13)
    hostile = _hostile(good_before.to_dict())
    key = user.encode()
    await publish(
        pipeline.kafka_bootstrap_servers,
        CHAIN_EVENTS.name,
        [(key, good_before.to_json())]
        + [(key, value) for value in hostile.values()]
        + [(key, None), (key, good_after.to_json())],
    )
    await eventually(
        lambda: db.fetchval("SELECT count(*) = 2 FROM transactions WHERE user_address = $1", user),
        what="both good events around the hostile ones",
    )

    async def letters() -> list[dict[str, object]]:
        found = [
            json.loads(v)
            for k, v, _, _ in await read_all(pipeline.kafka_bootstrap_servers, DLQ.name)
            if k == key and v is not None
        ]
        return found if len(found) >= len(hostile) + 1 else []

    dead = await eventually(letters, what="a dead letter for every hostile record")
    assert len(dead) == len(hostile) + 1  # + the tombstone
    # Each letter identifies its original exactly (a huge one is kept in part, with its hash).
    originals = {d["value_sha256"] for d in dead if d["value_sha256"]}
    assert originals == {hashlib.sha256(v).hexdigest() for v in hostile.values()}
    huge = next(d for d in dead if d["value_size"] == len(hostile["huge string"]))
    assert huge["value_truncated"] is True
    assert hostile["huge string"].startswith(base64.b64decode(str(huge["value_base64"])))
    for letter in dead:
        assert letter["schema"] == "dlq.record/v1"
        assert letter["source_topic"] == CHAIN_EVENTS.name
        assert letter["service"] == "db-writer"
        assert letter["error"]
    reasons = " | ".join(str(d["error"]) for d in dead)
    for expected in (
        "not UTF-8 JSON",
        "must be a JSON object",
        "chain.event/v9",
        "lowercase 0x address",
        "outside [0,",
        "has no event",
        "tombstone",
    ):
        assert expected in reasons
    assert await db.fetchval(
        "SELECT array_agg(amount ORDER BY amount) FROM transactions WHERE user_address = $1",
        user,
    ) == [11, 13]
