"""Health's reader against hostile records: whatever a topic holds, the reader counts what it
cannot read as rejected and reads on, so `/readyz` never stays 503 for a record (it re-reads
every topic from the start at each restart, so one stuck record would be forever). And a
conflicting duplicate the db-writer dead-letters raises an alert of its own."""

from __future__ import annotations

from aiokafka import ConsumerRecord
from devstack import services
from health_monitor.sources import Gone, read
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reservesync.messages import InvalidMessage, Message
from reservesync.topics import ALERTS, CHAIN_EVENTS, DLQ, ORACLE_OPERATIONS, ORACLE_STATE
from support import probes
from support.hostile import deep_nesting, hostile_values
from support.messages import deposited, publish

from health.builders import new_user, operation
from health.test_live import report_where, settled
from health.world import World

TOPICS = [CHAIN_EVENTS.name, ORACLE_OPERATIONS.name, ORACLE_STATE.name, DLQ.name, ALERTS.name]


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
    assert isinstance(outcome, Message | InvalidMessage | Gone)


async def test_poison_and_a_conflicting_duplicate_keep_health_ready_and_alert(
    world: World,
) -> None:
    deployment = world.endpoints.deployment
    await settled(world)
    user = new_user()
    original = deposited(deployment, user, 10**16)
    forged = original.model_copy(update={"args": {"user": user, "amount": str(10**20)}})
    deep = b'{"schema":"chain.event/v1","args":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    values = [original.to_json(), deep, b"\xff\xfe not json", b"[" * 5000, forged.to_json()]
    await publish(world.bootstrap, CHAIN_EVENTS.name, [(user.encode(), v) for v in values])

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
    # resolve, the world is as it was, the good deposit in both counts.
    after = await settled(world)
    assert after.sources_ready
