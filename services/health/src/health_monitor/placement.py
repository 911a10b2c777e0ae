"""Where a gap between the world and the database is: not yet published (the producer is
behind or dead), published but not yet written (the writer is behind or dead), or in the
database but wrong (altered, extra, or consumed and still missing). And which components a
dead or lagging producer makes stale."""

from __future__ import annotations

from dataclasses import dataclass

from reservesync.topics import CHAIN_EVENTS, ORACLE_OPERATIONS, ORACLE_STATE

from health_monitor.domain.lag import GroupLag
from health_monitor.domain.score import Component
from health_monitor.producers import CHAIN_LISTENER, DB_WRITER, ORACLE_LOGGER, ProducerStatus
from health_monitor.world.compare import TableVerdict

FEEDS = {
    CHAIN_LISTENER: (Component.TRANSACTIONS, Component.USERS, Component.EMERGENCY_BURNS),
    DB_WRITER: (
        Component.TRANSACTIONS,
        Component.USERS,
        Component.EMERGENCY_BURNS,
        Component.ORACLE_OPERATIONS,
    ),
    ORACLE_LOGGER: (Component.ORACLE_OPERATIONS, Component.USERS, Component.EMERGENCY_BURNS),
}
TOPICS = {
    "transactions": (CHAIN_EVENTS.name,),
    "users": (CHAIN_EVENTS.name, ORACLE_STATE.name, ORACLE_OPERATIONS.name),
    "emergency_burns": (CHAIN_EVENTS.name, ORACLE_STATE.name, ORACLE_OPERATIONS.name),
    "oracle_operations_log": (ORACLE_OPERATIONS.name,),
}
PRODUCER_OF = {
    "transactions": CHAIN_LISTENER,
    "users": CHAIN_LISTENER,
    "emergency_burns": CHAIN_LISTENER,
    "oracle_operations_log": ORACLE_LOGGER,
}


@dataclass(frozen=True)
class Placement:
    text: str
    in_flight: bool
    """Only missing rows a live producer or writer is still bringing: no content alert."""


def place(
    verdict: TableVerdict,
    producers: dict[str, ProducerStatus],
    listener_next: int | None,
    writer: GroupLag | None,
) -> Placement | None:
    if verdict.agrees or not verdict.known:
        return None
    parts: list[str] = []
    in_flight = not (verdict.extra or verdict.altered)
    if verdict.altered:
        parts.append(f"{verdict.altered} written wrong (content differs from the world)")
    if verdict.extra:
        parts.append(
            f"{verdict.extra} in the database only (added by hand, or from orphaned blocks)"
        )
    if verdict.missing:
        where, flowing = _missing(verdict, producers, listener_next, writer)
        parts.append(f"{verdict.missing} missing: {where}")
        in_flight = in_flight and flowing
    return Placement("; ".join(parts), in_flight)


def _missing(
    verdict: TableVerdict,
    producers: dict[str, ProducerStatus],
    listener_next: int | None,
    writer: GroupLag | None,
) -> tuple[str, bool]:
    producer = producers.get(PRODUCER_OF[verdict.table])
    if producer is not None and not producer.alive:
        return f"not published ({producer.name} down)", False
    missing_blocks = [d.blocks for d in verdict.found if d.kind == "missing" and d.blocks]
    if listener_next is not None and missing_blocks and missing_blocks[0][1] >= listener_next:
        alive = producer is None or producer.alive
        return f"not yet published (chain-listener at block {listener_next})", alive
    behind = 0
    if writer is not None:
        behind = sum(p.lag for p in writer.partitions if p.topic in TOPICS[verdict.table])
    if behind:
        writer_alive = writer is not None and writer.consumer_alive
        state = "behind" if writer_alive else "not consuming"
        return f"published, not yet written (db-writer {state}, {behind} records)", writer_alive
    if verdict.table == "oracle_operations_log":
        return "not on the topic (the oracle performed it, nothing logged it) or removed", False
    return "published and consumed, not in the database (removed or never written)", False


def stale_components(
    producers: list[ProducerStatus], listener_behind: str | None
) -> dict[Component, str]:
    stale: dict[Component, str] = {}
    for producer in producers:
        if producer.alive:
            continue
        for component in FEEDS.get(producer.name, ()):
            stale.setdefault(component, f"{producer.name} down")
    if listener_behind:
        for component in FEEDS[CHAIN_LISTENER]:
            stale.setdefault(component, listener_behind)
    return stale
