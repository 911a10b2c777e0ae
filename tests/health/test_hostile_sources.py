"""Health's reader against hostile records: whatever a topic it reads holds, the reader counts
what it cannot read as rejected and reads on, so `/readyz` never stays 503 for a record (it
re-reads its topics from the start at each restart, so one stuck record would be forever). And a
conflicting duplicate the db-writer dead-letters raises an alert of its own."""

from __future__ import annotations

from aiokafka import ConsumerRecord
from devstack import services
from health_monitor.sources import read
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reservesync.messages import ChainEvent, InvalidMessage, Message
from reservesync.topics import ALERTS, CHAIN_EVENTS, DLQ, REGISTRY

from tests.health.support.live_pipeline import World
from tests.health.test_live import chain_moves, report_where, settled
from tests.support import probes
from tests.support.hostile import deep_nesting, hostile_values
from tests.support.messages import operation, publish
from tests.support.topics import read_all

TOPICS = [REGISTRY.name, DLQ.name, ALERTS.name]
"""What health's reader reads (the world it judges by comes from the chain and the oracle)."""


def _record(topic: str, value: bytes | None, key: bytes | None = None) -> ConsumerRecord:
    return ConsumerRecord(topic, 0, 7, 0, 0, key, value, None, 0, 0, [])


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    topic=st.sampled_from(TOPICS),
    value=st.one_of(hostile_values(operation("0x" + "ab" * 20).to_dict()), deep_nesting, st.none()),
    key=st.one_of(st.none(), st.binary(max_size=64)),
)
def test_reading_any_record_returns_instead_of_raising(
    topic: str, value: bytes | None, key: bytes | None
) -> None:
    outcome = read(_record(topic, value, key))
    assert isinstance(outcome, Message | InvalidMessage)


async def test_poison_and_a_conflicting_duplicate_keep_health_ready_and_alert(
    world: World,
) -> None:
    user = await chain_moves(world)
    await settled(world)
    # A real event of the chain, as the listener published it, and a forgery of it: the same
    # event_id with other content.
    events = [
        ChainEvent.model_validate_json(value)
        for key, value, _, _ in await read_all(world.bootstrap, CHAIN_EVENTS.name)
        if value is not None and key == user.encode()
    ]
    original = events[-1]
    forged = original.model_copy(
        update={"block_timestamp": original.block_timestamp.replace(year=2001)}
    )
    deep = b'{"schema":"chain.event/v1","args":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    poison = [deep, b"\xff\xfe not json", b"[" * 5000, forged.to_json()]
    await publish(world.bootstrap, CHAIN_EVENTS.name, [(user.encode(), v) for v in poison])
    for topic in TOPICS:
        await publish(world.bootstrap, topic, [(b"poison", deep), (b"poison", b"[" * 5000)])

    report = await report_where(
        world,
        lambda r: any(a.kind == "conflicting_duplicate" for a in r.alerts),
        "the conflicting-duplicate alert",
    )
    alert = next(a for a in report.alerts if a.kind == "conflicting_duplicate")
    assert alert.alert_id == f"health:conflict:{CHAIN_EVENTS.name}"
    assert alert.details["conflicting_duplicates"] == 1
    assert report.sources_ready
    assert await probes.answers("health", world.prefix, "/readyz", 200, "")
    assert services.running("db-writer", prefix=world.prefix)
    # Read past the poison and written past it: once the window passes and the alerts
    # resolve, the world is as it was.
    after = await settled(world)
    assert after.sources_ready
