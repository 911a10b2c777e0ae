"""No input can stop the db-writer: the session's writer process (real Kafka, real Postgres)
meets arbitrary bytes, arbitrary JSON and every ABI extreme mixed with good records. Each good
record is written once, each record it cannot accept is dead-lettered with its reason, and
the process stays up and ready. Plus the cases that used to stop it, one by one, and
conflicting duplicates, which are never silent."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from devstack.deploy import DeploymentRecord
from devstack.protocol import Protocol
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from realtime_api.storage import aggregates
from reservesync import kafka, merkle
from reservesync.contracts import SystemContract
from reservesync.messages import (
    InvalidMessage,
    OperationStatus,
    OracleAction,
    OracleOperation,
    decode,
)
from reservesync.settings import KafkaSettings
from reservesync.topics import CHAIN_EVENTS, ORACLE_OPERATIONS, Topic

from tests.support import probes
from tests.support.hostile import UINT64_MAX, UINT256_MAX, hostile_values
from tests.support.messages import T0, chain_event, deposited, random_hash, synced
from tests.support.stack import Endpoints
from tests.support.topics import read_all
from tests.support.waiting import eventually

WRITER_GROUP = "rbtc-db-writer"
"""The session writer's consumer group (its default)."""
PIPELINE_PREFIX = "test"
ROW_TABLES = {
    CHAIN_EVENTS.name: (
        "transactions",
        "balance_history",
        "balance_snapshots",
        "emergency_burns",
        "yield_operations_log",
        "balance_disputes",
    ),
    ORACLE_OPERATIONS.name: ("oracle_operations_log",),
}


@dataclass(frozen=True)
class Published:
    partition: int
    offset: int
    value: bytes


async def _publish(
    endpoints: Endpoints, topic: str, key: bytes, values: Sequence[bytes]
) -> list[Published]:
    """Publish in order under one key (so one partition) and say where each record landed."""
    settings = KafkaSettings(kafka_bootstrap_servers=endpoints.kafka_bootstrap_servers)
    producer = kafka.producer(settings, linger_ms=20)
    await producer.start()
    try:
        futures = [await producer.send(topic, value, key=key) for value in values]
        landed = [await future for future in futures]
    finally:
        await producer.stop()
    return [Published(m.partition, m.offset, v) for m, v in zip(landed, values, strict=True)]


async def _written_past(db: asyncpg.Connection, topic: str, last: Published) -> bool:
    stored = await db.fetchval(
        "SELECT next_offset FROM sink_offsets WHERE consumer_group = $1 AND topic = $2 "
        "AND partition = $3",
        WRITER_GROUP,
        topic,
        last.partition,
    )
    return stored is not None and stored > last.offset


async def _letters(
    endpoints: Endpoints, topic: str, key: bytes, want: int
) -> dict[int, dict[str, Any]]:
    """The dead letters of records published to `topic` under `key`, by source offset, once
    `want` are there (the outbox publishes them after the batch commits). One topic at a time:
    two topics' records may sit at the same offset."""

    async def found() -> dict[int, dict[str, Any]] | None:
        letters = {
            int(letter["offset"]): letter
            for k, v, _, _ in await read_all(endpoints.kafka_bootstrap_servers, "rbtc.dlq.v1")
            if k == key and v is not None
            for letter in [json.loads(v)]
            if letter["source_topic"] == topic
        }
        return letters if len(letters) >= want else None

    if want == 0:
        return {}
    letters = await eventually(found, within=120, what=f"{want} dead letters")
    assert letters is not None
    return letters


async def _rows_by_offset(
    db: asyncpg.Connection, topic: str, partition: int, offsets: list[int]
) -> dict[int, int]:
    counted: dict[int, int] = {}
    for table in ROW_TABLES[topic]:
        for record in await db.fetch(
            f"SELECT src_offset, count(*) AS n FROM {table} "
            "WHERE src_topic = $1 AND src_partition = $2 AND src_offset = ANY($3::bigint[]) "
            "GROUP BY src_offset",
            topic,
            partition,
            offsets,
        ):
            counted[record["src_offset"]] = counted.get(record["src_offset"], 0) + record["n"]
    return counted


async def _writer_up() -> None:
    assert await probes.answers("db-writer", PIPELINE_PREFIX, "/healthz", 200, "db-writer")
    await eventually(
        lambda: probes.answers("db-writer", PIPELINE_PREFIX, "/readyz", 200, "db-writer ok"),
        within=60,
        what="the writer ready",
    )


def _decodes(topic: Topic, value: bytes) -> bool:
    try:
        decode(value, topic.carries)
    except InvalidMessage:
        return False
    return True


# -- what the property test mixes -----------------------------------------------------------


def _good(deployment: DeploymentRecord, topic: Topic, user: str, n: int) -> bytes:
    if topic is CHAIN_EVENTS:
        return deposited(deployment, user, 10**12 + n).to_json()
    return _operation(user, f"op-good-{secrets.token_hex(8)}", amount=n).to_json()


def _operation(user: str, operation_id: str, *, amount: int) -> OracleOperation:
    return OracleOperation(
        operation_id=operation_id,
        action=OracleAction.SYNC,
        user_address=user,
        amount_sats=amount,
        consensus_reached=True,
        sources_used=["mempool.space"],
        status=OperationStatus.SUCCESS,
        # Now, not the made-up world's time: retention drops operations older than a year.
        occurred_at=datetime.now(UTC),
        oracle_id="oracle-1",
    )


def _base(deployment: DeploymentRecord, topic: Topic, user: str, kind: int) -> dict[str, Any]:
    """A fresh valid message (its own idempotency key) for the mutations to start from."""
    if topic is ORACLE_OPERATIONS:
        return _operation(user, f"op-{secrets.token_hex(8)}", amount=kind).to_dict()
    if kind % 3 == 0:
        return synced(deployment, user, 5_000, 5_000, tx_hash=random_hash()).to_dict()
    if kind % 3 == 1:
        reason = "Insufficient fees"
        args: dict[str, str | bool] = {"user": user, "burnedAmount": "700", "reason": reason}
        return chain_event(
            deployment, SystemContract.ORACLE_AGGREGATOR, "EmergencyBurn", args
        ).to_dict()
    return deposited(deployment, user, 3).to_dict()


@pytest.mark.timeout(1200)
@settings(
    max_examples=24,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    topic=st.sampled_from([CHAIN_EVENTS, ORACLE_OPERATIONS]),
    plan=st.lists(st.tuples(st.booleans(), st.integers(0, 2)), min_size=2, max_size=10),
    data=st.data(),
)
def test_every_good_record_lands_once_and_every_bad_one_is_dead_lettered(
    pipeline: Endpoints, topic: Topic, plan: list[tuple[bool, int]], data: st.DataObject
) -> None:
    deployment = pipeline.deployment
    user = Protocol.new_user().lower()
    values: list[bytes] = []
    good: list[bytes] = []
    for i, (is_good, kind) in enumerate(plan):
        if is_good:
            good.append(_good(deployment, topic, user, i))
            values.append(good[-1])
        else:
            values.append(data.draw(hostile_values(_base(deployment, topic, user, kind))))
    asyncio.run(_check_example(pipeline, topic, user, values, good))


async def _check_example(
    endpoints: Endpoints, topic: Topic, user: str, values: list[bytes], good: list[bytes]
) -> None:
    key = user.encode()
    published = await _publish(endpoints, topic.name, key, values)
    db = await asyncpg.connect(endpoints.migrator_url)
    try:
        await eventually(
            lambda: _written_past(db, topic.name, published[-1]),
            within=120,
            what="the writer past the example's records",
        )
        partition = published[0].partition
        rows = await _rows_by_offset(db, topic.name, partition, [p.offset for p in published])
        refused = [p for p in published if not _decodes(topic, p.value)]
        # Records that decode may still be refused by the database (a Synced whose previous
        # balance would be negative): those too are dead-lettered, never lost.
        unwritten = [p for p in published if p not in refused and p.offset not in rows]
        letters = await _letters(endpoints, topic.name, key, len(refused) + len(unwritten))
        for record in published:
            lettered, written = record.offset in letters, record.offset in rows
            found = (rows.get(record.offset), letters.get(record.offset))
            assert lettered != written, (record, found)
        for record in refused:
            assert letters[record.offset]["error"], record
            assert letters[record.offset]["service"] == "db-writer"
        for value in good:
            record = next(p for p in published if p.value == value)
            assert rows.get(record.offset) == 1  # a deposit's or an operation's one row, once
    finally:
        await db.close()
    await _writer_up()


# -- the cases that used to stop the writer -------------------------------------------------


async def test_json_nested_100k_levels_deep_is_dead_lettered_and_the_stream_goes_on(
    pipeline: Endpoints, db: asyncpg.Connection
) -> None:
    user = Protocol.new_user().lower()
    deep = b'{"schema":"chain.event/v1","args":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    before, after = (deposited(pipeline.deployment, user, n).to_json() for n in (21, 22))
    published = await _publish(pipeline, CHAIN_EVENTS.name, user.encode(), [before, deep, after])
    await eventually(
        lambda: db.fetchval(
            "SELECT array_agg(amount ORDER BY amount) = '{21,22}' FROM transactions "
            "WHERE user_address = $1",
            user,
        ),
        within=120,
        what="both deposits around the deep record",
    )
    letters = await _letters(pipeline, CHAIN_EVENTS.name, user.encode(), 1)
    assert "nested deeper than" in letters[published[1].offset]["error"]
    await _writer_up()


async def test_a_uint64_balance_and_a_uint256_burn_are_stored_exactly(
    pipeline: Endpoints, db: asyncpg.Connection
) -> None:
    """A buggy oracle call can put any uint64 on chain as a balance; the writer used to die
    encoding it into a bigint. It is stored exactly, and so is what follows it."""
    deployment, user = pipeline.deployment, Protocol.new_user().lower()
    burn_tx = random_hash()
    events = [
        synced(deployment, user, UINT64_MAX, 2**63 - 1, block=300),
        chain_event(
            deployment,
            SystemContract.ORACLE_AGGREGATOR,
            "EmergencyBurn",
            {"user": user, "burnedAmount": str(UINT256_MAX), "reason": "Insufficient fees"},
            tx_hash=burn_tx,
            block_number=301,
            at=T0 + timedelta(hours=1),
        ),
        deposited(deployment, user, 23),
    ]
    await _publish(pipeline, CHAIN_EVENTS.name, user.encode(), [e.to_json() for e in events])
    await eventually(
        lambda: db.fetchval("SELECT count(*) = 3 FROM transactions WHERE user_address = $1", user),
        within=120,
        what="the three transactions",
    )
    history = await db.fetchrow(
        "SELECT previous_sats, new_sats, delta_sats FROM balance_history WHERE user_address = $1",
        user,
    )
    assert (history["previous_sats"], history["new_sats"], history["delta_sats"]) == (
        UINT64_MAX - (2**63 - 1),
        UINT64_MAX,
        2**63 - 1,
    )
    assert (
        await db.fetchval(
            "SELECT balance_sats FROM balance_snapshots WHERE user_address = $1", user
        )
        == UINT64_MAX
    )
    assert (
        await db.fetchval(
            "SELECT balance_after_sats FROM transactions WHERE user_address = $1 "
            "AND event = 'Synced'",
            user,
        )
        == UINT64_MAX
    )
    assert (
        await db.fetchval("SELECT burned_sats FROM emergency_burns WHERE user_address = $1", user)
        == UINT256_MAX
    )
    state = await db.fetchrow(
        "SELECT balance_sats, emergency_burned_sats FROM user_current_state "
        "WHERE user_address = $1",
        user,
    )
    assert (state["balance_sats"], state["emergency_burned_sats"]) == (UINT64_MAX, UINT256_MAX)
    # The API's proof of reserves reads every balance as 8 unsigned bytes: this one too.
    row = await db.fetchrow(aggregates.RESERVES)
    tree = merkle.build(row["records"], merkle.Point(row["evm_block"], row["btc_height"]))
    index = tree.index_of(bytes.fromhex(user[2:]))
    assert index is not None
    assert tree.holding(index).synced_sats == UINT64_MAX
    await _writer_up()


async def test_values_past_the_abi_or_the_columns_are_refused_with_a_reason(
    pipeline: Endpoints, db: asyncpg.Connection
) -> None:
    deployment, user = pipeline.deployment, Protocol.new_user().lower()
    too_big = synced(deployment, user, 1, 1).to_dict()
    too_big["args"] = {**too_big["args"], "newBalanceSats": str(2**64)}
    far_block = deposited(deployment, user, 1).to_dict() | {"block_number": 2**63}
    with_nul = chain_event(
        deployment,
        SystemContract.ORACLE_AGGREGATOR,
        "EmergencyBurn",
        {"user": user, "burnedAmount": "5", "reason": "Insufficient\x00fees"},
    ).to_dict()
    surrogate_op = _operation(user, "op-" + secrets.token_hex(8), amount=1).to_dict()
    surrogate_op["reason"] = "\ud800"
    hostile = [json.dumps(v).encode() for v in (too_big, far_block, with_nul)]
    last = deposited(deployment, user, 24).to_json()
    published = await _publish(pipeline, CHAIN_EVENTS.name, user.encode(), [*hostile, last])
    op_published = await _publish(
        pipeline, ORACLE_OPERATIONS.name, user.encode(), [json.dumps(surrogate_op).encode()]
    )
    await eventually(
        lambda: db.fetchval(
            "SELECT count(*) = 1 FROM transactions WHERE user_address = $1 AND amount = 24", user
        ),
        within=120,
        what="the deposit after the refused records",
    )
    letters = await _letters(pipeline, CHAIN_EVENTS.name, user.encode(), 3)
    reasons = [letters[p.offset]["error"] for p in published[:3]]
    assert "newBalanceSats (uint64): outside [0, 18446744073709551615]" in reasons[0]
    assert "block_number" in reasons[1]
    assert "NUL" in reasons[2]
    op_letters = await _letters(pipeline, ORACLE_OPERATIONS.name, user.encode(), 1)
    op_letter = op_letters[op_published[0].offset]
    assert "unicode string" in op_letter["error"] or "lone surrogate" in op_letter["error"]
    await _writer_up()


# -- conflicting duplicates -----------------------------------------------------------------


async def _conflicts(db: asyncpg.Connection, topic: str) -> int:
    return int(
        await db.fetchval(
            "SELECT coalesce(sum(row_count), 0) FROM sink_counters "
            "WHERE table_name = 'conflicting_duplicates' AND src_topic = $1",
            topic,
        )
    )


async def test_a_chain_event_id_reused_with_other_content_is_dead_lettered_and_counted(
    pipeline: Endpoints, db: asyncpg.Connection
) -> None:
    deployment, user = pipeline.deployment, Protocol.new_user().lower()
    original = deposited(deployment, user, 31)
    forged = original.model_copy(update={"args": {"user": user, "amount": str(10**20)}})
    follow_up = deposited(deployment, user, 32)
    counted_before = await _conflicts(db, CHAIN_EVENTS.name)
    values = [original.to_json(), original.to_json(), forged.to_json(), follow_up.to_json()]
    published = await _publish(pipeline, CHAIN_EVENTS.name, user.encode(), values)
    await eventually(
        lambda: db.fetchval(
            "SELECT array_agg(amount ORDER BY amount) = '{31,32}' FROM transactions "
            "WHERE user_address = $1",
            user,
        ),
        within=120,
        what="the original and the follow-up, not the forgery",
    )
    letters = await _letters(pipeline, CHAIN_EVENTS.name, user.encode(), 1)
    assert set(letters) == {published[2].offset}  # the identical copy stays silent
    error = letters[published[2].offset]["error"]
    assert error.startswith("ConflictingDuplicate: conflicting duplicate: ")
    assert original.event_id in error
    assert await _conflicts(db, CHAIN_EVENTS.name) == counted_before + 1
    await _writer_up()


async def test_an_operation_id_reused_with_other_content_is_dead_lettered_and_counted(
    pipeline: Endpoints, db: asyncpg.Connection
) -> None:
    user = Protocol.new_user().lower()
    operation_id = f"op-{secrets.token_hex(8)}"
    first = _operation(user, operation_id, amount=41)
    other = _operation(user, operation_id, amount=42)
    counted_before = await _conflicts(db, ORACLE_OPERATIONS.name)
    values = [first.to_json(), other.to_json(), first.to_json()]
    published = await _publish(pipeline, ORACLE_OPERATIONS.name, user.encode(), values)
    letters = await _letters(pipeline, ORACLE_OPERATIONS.name, user.encode(), 1)
    assert set(letters) == {published[1].offset}
    assert "conflicting duplicate" in letters[published[1].offset]["error"]
    assert (
        await db.fetchval(
            "SELECT amount_sats FROM oracle_operations_log WHERE operation_id = $1", operation_id
        )
        == 41
    )
    await eventually(
        lambda: _written_past(db, ORACLE_OPERATIONS.name, published[-1]), what="all three"
    )
    assert await _conflicts(db, ORACLE_OPERATIONS.name) == counted_before + 1
    await _writer_up()
