"""Publishing to Kafka, answering only after the acknowledgement, and publishing each operation
once however often a client retries it.

Before anything is published, the intake (`intake`, shared by the replicas in PostgreSQL)
records each operation id with its content digest, atomically: other content for a known id is
refused (409) on every replica and after restarts. An id recorded but not acknowledged by Kafka
(a crash in between, a timeout) is published again by an identical retry. Two identical
requests racing on two replicas may both publish; the db-writer dedupes those on
`operation_id`. Within one process, a retry waits for the attempt in flight instead.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from faststream.kafka.publisher.usecase import DefaultPublisher
from reservesync import dead_letters
from reservesync.messages import DeadLetter, OracleOperation, OracleUserState

from oracle_logger import metrics
from oracle_logger.intake import IdConflict, Intake
from oracle_logger.outlets import Outlets

__all__ = ["IdConflict", "OperationsOutcome", "PublishFailed", "Publisher", "digest"]

log = logging.getLogger(__name__)


class PublishFailed(Exception):
    """Kafka did not acknowledge every record in time; nothing unacknowledged is remembered."""


@dataclass(frozen=True)
class OperationsOutcome:
    accepted: list[str]
    """Every operation id of the request, in request order."""
    already_accepted: list[str]
    """The subset Kafka acknowledged earlier, not published again."""


def digest(value: bytes) -> str:
    return hashlib.sha256(value).hexdigest()


class Publisher:
    def __init__(self, outlets: Outlets, *, intake: Intake, timeout_s: float) -> None:
        self._outlets = outlets
        self._intake = intake
        self._timeout_s = timeout_s
        # Ids being published right now: a concurrent retry waits for that outcome instead of
        # publishing a second copy (a client that timed out may retry before we have answered).
        self._in_flight: dict[str, asyncio.Future[None]] = {}

    async def publish_operations(
        self, operations: Sequence[OracleOperation], source: str = "push"
    ) -> OperationsOutcome:
        """Publish the operations not published before; raises `IdConflict`, `PublishFailed`
        and `shared_state.StateUnavailable`.

        `operations` carry distinct ids (the route merges identical repeats)."""
        values = {op.operation_id: (op.user_address, op.to_json()) for op in operations}
        digests = {op_id: digest(value) for op_id, (_, value) in values.items()}
        oracles = {op.operation_id: op.oracle_id for op in operations}
        while waiting := {self._in_flight[i] for i in values if i in self._in_flight}:
            await asyncio.wait(waiting)
        # From the check above to this claim nothing awaits, so the two are atomic.
        claim: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        for op_id in values:
            self._in_flight[op_id] = claim
        try:
            decided = await self._intake.claim(digests, oracles)
            acked = await self._send(self._outlets.operations, [values[i] for i in decided.todo])
            # Mark each acknowledged id even when others failed: the client's retry then
            # publishes only what is really missing.
            done = {i: digests[i] for i, ok in zip(decided.todo, acked, strict=True) if ok}
            if done:
                await self._intake.published(done)
            if not all(acked):
                raise PublishFailed(
                    f"{acked.count(False)} of {len(decided.todo)} operations not acked"
                )
        finally:
            for op_id in values:
                del self._in_flight[op_id]
            claim.set_result(None)
        metrics.ACCEPTED.labels("operation", source).inc(len(decided.todo))
        metrics.DUPLICATES.labels("operation").inc(len(decided.done))
        return OperationsOutcome(accepted=list(values), already_accepted=decided.done)

    async def publish_states(self, states: Sequence[OracleUserState], source: str = "push") -> None:
        """Publish user states onto the compacted topic; raises `PublishFailed`.

        No memory here: the topic keeps the newest state per user and the db-writer lets the
        newest `as_of` win, so publishing the same state twice changes nothing."""
        records = [(s.user_address, s.to_json()) for s in states]
        acked = await self._send(self._outlets.states, records)
        if not all(acked):
            raise PublishFailed(f"{acked.count(False)} of {len(states)} user states not acked")
        metrics.ACCEPTED.labels("state", source).inc(len(states))

    async def publish_dead_letter(self, letter: DeadLetter) -> None:
        """Returns once Kafka acknowledged the letter."""
        key = dead_letters.record_key(letter)
        await self._outlets.dead_letters.publish(letter.to_json(), key=key)

    async def _send(
        self, publisher: DefaultPublisher, records: Sequence[tuple[str, bytes]]
    ) -> list[bool]:
        """Whether Kafka acknowledged each record within the timeout."""
        if not records:
            return []
        topic = publisher.topic
        started = time.perf_counter()
        futures: list[asyncio.Future[Any]] = []
        try:
            async with asyncio.timeout(self._timeout_s):
                for key, value in records:
                    # no_confirm hands back the producer's delivery future at once: the
                    # records of a request are sent in order, then awaited together.
                    sent = await publisher.publish(value, key=key.encode(), no_confirm=True)
                    futures.append(sent)
        except Exception:
            log.exception("could not hand records to the Kafka producer", extra={"topic": topic})
        if futures:
            # asyncio.wait, not wait_for/gather: a timeout must not cancel the producer's own
            # delivery futures, which it still resolves later.
            remaining = max(0.0, self._timeout_s - (time.perf_counter() - started))
            await asyncio.wait(futures, timeout=remaining)
        acked = [f.done() and not f.cancelled() and f.exception() is None for f in futures]
        acked += [False] * (len(records) - len(futures))
        if all(acked):
            metrics.PUBLISH_SECONDS.labels(topic).observe(time.perf_counter() - started)
        else:
            failed = next((f for f in futures if f.done() and f.exception() is not None), None)
            log.error(
                "Kafka did not acknowledge every record",
                extra={
                    "topic": topic,
                    "records": len(records),
                    "unacknowledged": acked.count(False),
                    "cause": repr(failed.exception()) if failed is not None else "timeout",
                },
            )
        return acked
