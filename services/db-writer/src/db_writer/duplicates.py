"""Idempotency keys with the digest of their content: a message whose key (a chain event's
`event_id`, an operation's `operation_id`) was written before is a duplicate. An identical
duplicate changes nothing, in silence; one with other content is a conflicting duplicate,
which is never silent: the first content stays, the second goes to the dead-letter topic, and
`sink_counters` counts it (table name `conflicting_duplicates`) for health to see.

The claims live in `message_digests` (migration 0005), written in the batch's transaction. A
reorg removes the claims of its orphaned blocks with their rows, so an event mined again in
another block is written again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import asyncpg
from reservesync.dead_letters import ConsumedRecord
from reservesync.messages import ChainEvent, DeadLetter, Message, OracleOperation
from reservesync.messages.abi_values import event_shape

COUNTER = "conflicting_duplicates"
"""The `sink_counters.table_name` under which conflicting duplicates are counted."""
COLUMNS = ["src_topic", "message_key", "digest", "block_hash", "src_partition", "src_offset"]
Coordinate = tuple[str, int, int]
"""(topic, partition, offset) of one record."""


@dataclass(frozen=True)
class Claim:
    """A record's claim on an idempotency key, with the digest of what it says."""

    record: ConsumedRecord = field(compare=False)
    key: str
    digest: bytes
    block_hash: str | None

    @property
    def coordinate(self) -> Coordinate:
        return (self.record.topic, self.record.partition, self.record.offset)

    def copy_record(self) -> tuple[object, ...]:
        r = self.record
        return (r.topic, self.key, self.digest, self.block_hash, r.partition, r.offset)


ConflictLetter = Callable[[Claim, str], DeadLetter]
"""Builds the dead letter of a conflicting claim, given why it conflicts."""


def content_digest(message: Message) -> bytes:
    """SHA-256 of the message's canonical JSON: equal for equal content, whatever the key
    order, spacing or address case of the bytes on the wire. The model's own serialisation is
    canonical (fields in declared order, values normalised) but for a chain event's `args`,
    a dict that keeps the producer's order: put in ABI order first."""
    if isinstance(message, ChainEvent):
        message = _in_abi_order(message)
    return hashlib.sha256(message.to_json()).digest()


def _in_abi_order(event: ChainEvent) -> ChainEvent:
    shape = event_shape(event.contract, event.event)
    if shape is None or tuple(event.args) == shape.ordered:
        return event  # what the chain-listener publishes: no copy
    return event.model_copy(update={"args": {name: event.args[name] for name in shape.ordered}})


def claim_of(message: Message, record: ConsumedRecord) -> Claim | None:
    if isinstance(message, ChainEvent):
        return Claim(record, message.event_id, content_digest(message), message.block_hash)
    if isinstance(message, OracleOperation):
        return Claim(record, message.operation_id, content_digest(message), None)
    return None  # state and registry topics are compacted: a newer message replaces, by design


@dataclass
class Verdict:
    """What a batch's claims found: the records whose rows must not be written."""

    skipped: set[Coordinate] = field(default_factory=set)
    conflicts: list[tuple[Claim, str]] = field(default_factory=list)


async def settle_claims(connection: asyncpg.Connection, claims: Sequence[Claim]) -> Verdict:
    """Record the batch's new claims; find its duplicates, identical or conflicting."""
    verdict = Verdict()
    by_key: dict[tuple[str, str], list[Claim]] = {}
    for claim in claims:
        by_key.setdefault((claim.record.topic, claim.key), []).append(claim)
    if not by_key:
        return verdict
    stored: dict[tuple[str, str], asyncpg.Record] = {}
    try:
        # The common case, no key seen before: COPY, Postgres's fastest path.
        async with connection.transaction():
            await _copy(connection, [same[0] for same in by_key.values()])
    except asyncpg.UniqueViolationError:
        stored = await _stored(connection, list(by_key))
        await _copy(connection, [same[0] for key, same in by_key.items() if key not in stored])
    for key, same in by_key.items():
        known = stored.get(key)
        if known is None and len(same) == 1:
            continue  # nearly every claim: a new key, once in the batch
        if known is None:
            first, later = same[0], same[1:]
            where, digest = first.coordinate, first.digest
        else:
            later = same
            where = (known["src_topic"], known["src_partition"], known["src_offset"])
            digest = bytes(known["digest"])
        for claim in later:
            _judge(verdict, claim, digest, where)
    return verdict


async def _copy(connection: asyncpg.Connection, claims: Sequence[Claim]) -> None:
    if claims:
        await connection.copy_records_to_table(
            "message_digests", records=[c.copy_record() for c in claims], columns=COLUMNS
        )


async def _stored(
    connection: asyncpg.Connection, keys: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], asyncpg.Record]:
    records = await connection.fetch(
        "SELECT src_topic, message_key, digest, src_partition, src_offset FROM message_digests "
        "WHERE (src_topic, message_key) IN (SELECT * FROM unnest($1::text[], $2::text[]))",
        [topic for topic, _ in keys],
        [key for _, key in keys],
    )
    return {(r["src_topic"], r["message_key"]): r for r in records}


def _judge(verdict: Verdict, claim: Claim, digest: bytes, first: Coordinate) -> None:
    verdict.skipped.add(claim.coordinate)
    if digest != claim.digest:
        topic, partition, offset = first
        verdict.conflicts.append(
            (
                claim,
                f"{claim.key!r} was written from {topic}/{partition}@{offset} with other "
                f"content (sha256 {digest.hex()[:16]}…, this one {claim.digest.hex()[:16]}…)",
            )
        )
