"""Kafka's copy of the offsets the database holds, kept for lag tools (the health service reads
the writer group's committed offsets).

The database stays the truth; Kafka's copy may only trail it while a commit is on its way. A
commit Kafka refuses (a rebalance, a writer paused past its session) is kept and sent again:
dropped, it would leave a partition that receives nothing more showing lag for ever.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from typing import Protocol

from aiokafka import TopicPartition
from aiokafka.errors import KafkaError

from db_writer import metrics

log = logging.getLogger(__name__)


class GroupMember(Protocol):
    """What of a group's consumer (aiokafka's) commits need."""

    def assignment(self) -> set[TopicPartition]: ...

    async def commit(self, offsets: dict[TopicPartition, int]) -> None: ...


class KafkaOffsets:
    def __init__(
        self,
        consumer: GroupMember,
        retry_every_s: float = 1.0,
        timeout_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.consumer = consumer
        self.clock = clock
        self.retry_every_s = retry_every_s
        self.timeout_s = timeout_s
        """A commit waits no longer: the rows are safe already, and a writer blocked on Kafka's
        copy would stop writing and beating."""
        self.due: dict[TopicPartition, int] = {}
        """Per partition, the next offset the database holds and Kafka has not acknowledged."""
        self._next_try = 0.0

    def stored(self, offsets: Mapping[TopicPartition, int]) -> None:
        """The database now holds these next offsets (written, or found there on assignment)."""
        self.due.update(offsets)

    async def commit(self) -> None:
        """Sends what is due for the partitions this writer holds; never raises."""
        assigned = self.consumer.assignment()
        # A partition moved to another writer is that writer's to commit, from the database.
        self.due = {tp: offset for tp, offset in self.due.items() if tp in assigned}
        if not self.due:
            return
        sent = dict(self.due)
        try:
            async with asyncio.timeout(self.timeout_s):
                await self.consumer.commit(sent)
        except (KafkaError, TimeoutError) as exc:
            self._next_try = self.clock() + self.retry_every_s
            metrics.KAFKA_COMMITS_DEFERRED.inc()
            log.info("kafka commit deferred", extra={"error": f"{type(exc).__name__}: {exc}"})
            return
        for tp, offset in sent.items():
            if self.due.get(tp) == offset:
                del self.due[tp]

    async def commit_deferred(self) -> None:
        """Sends again what Kafka refused before, once its retry interval has passed."""
        if self.due and self.clock() >= self._next_try:
            await self.commit()
