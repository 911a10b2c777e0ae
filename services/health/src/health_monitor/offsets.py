"""Committed offsets, members and log ends of the watched consumer groups, from Kafka's admin
API: the raw samples the lag book judges."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.coordinator.protocol import ConsumerProtocolMemberAssignment
from aiokafka.errors import KafkaError
from reservesync import kafka
from reservesync.settings import KafkaSettings

log = logging.getLogger(__name__)
LIVE_STATES = {"Stable", "PreparingRebalance", "CompletingRebalance"}
PARTITIONS_REFRESH_S = 60.0
COUNT_LIMIT = 2000
UNREAD_TRUSTED_AFTER_S = 120.0
"""How long a group that had committed offsets may read as having none (or fail to read) before
that reading is taken as the truth: a broker restarting or its coordinator loading answers so
for seconds, while offsets deleted by hand or expired stay gone."""


@dataclass(frozen=True)
class GroupSample:
    group: str
    alive: bool
    committed: dict[TopicPartition, int] = field(default_factory=dict)
    """Every partition of the topics the group consumes: its committed offset, or where an
    `earliest` consumer would start when it has committed none."""
    ends: dict[TopicPartition, int] = field(default_factory=dict)
    read: bool = True
    """False when Kafka could not say this cycle what a group that had committed offsets has
    committed, or whether it has members: that is no sample of the group, and taken as one it
    would say the group went back to the start of its topics."""


class OffsetSampler:
    def __init__(
        self, settings: KafkaSettings, expected: dict[str, tuple[str, ...]] | None = None
    ) -> None:
        self.expected = expected or {}
        """Per group, the topics it must consume even before it ever committed or joined: a
        writer that never started has lag too."""
        self.admin: AIOKafkaAdminClient = kafka.admin(settings, request_timeout_ms=10_000)
        # No group: it only asks for log ends (the last stable offsets, read_committed).
        self.logs: AIOKafkaConsumer = kafka.consumer(settings, group_id=None)
        # Reads the first unwritten records themselves: their count and their age are the lag.
        self.records: AIOKafkaConsumer = kafka.consumer(settings, group_id=None)
        self._partition_counts: dict[str, int] = {}
        self._partitions_checked = 0.0
        self._committing: set[str] = set()
        """Groups seen with committed offsets."""
        self._unread_since: dict[str, float] = {}

    async def start(self) -> None:
        await self.admin.start()
        await self.logs.start()
        await self.records.start()

    async def stop(self) -> None:
        await self.records.stop()
        await self.logs.stop()
        await self.admin.close()

    async def sample(self, groups: list[str]) -> list[GroupSample]:
        alive, assigned, undescribed = await self._members(groups)
        samples = []
        for group in groups:
            answered = await self._committed(group)
            if not self._readable(group, answered, described=group not in undescribed):
                samples.append(GroupSample(group, alive=False, read=False))
                continue
            committed = answered or {}
            topics = (
                {tp.topic for tp in committed}
                | assigned.get(group, set())
                | set(self.expected.get(group, ()))
            )
            partitions = await self._partitions(topics)
            if not partitions:
                samples.append(GroupSample(group, alive.get(group, False)))
                continue
            ends = await self.logs.end_offsets(partitions)
            missing = [tp for tp in partitions if tp not in committed]
            starts = await self.logs.beginning_offsets(missing) if missing else {}
            samples.append(
                GroupSample(
                    group,
                    alive.get(group, False),
                    {tp: committed.get(tp, starts.get(tp, 0)) for tp in partitions},
                    dict(ends),
                )
            )
        return samples

    async def _committed(self, group: str) -> dict[TopicPartition, int] | None:
        """The group's committed offsets; None when Kafka does not answer for them."""
        try:
            offsets = await self.admin.list_consumer_group_offsets(group)
        except KafkaError as exc:
            log.info("no offsets for group", extra={"group": group, "error": str(exc)})
            return None
        return {tp: meta.offset for tp, meta in offsets.items() if meta.offset >= 0}

    def _readable(
        self, group: str, committed: dict[TopicPartition, int] | None, *, described: bool
    ) -> bool:
        """Whether this cycle's reading of `group` is a sample. A group that has committed
        before and now has no offsets, or whose offsets or members Kafka did not give, is
        between readings (a broker restarting, its coordinator loading) until that has lasted
        `UNREAD_TRUSTED_AFTER_S`."""
        if committed:
            self._committing.add(group)
        if group not in self._committing or (committed and described):
            self._unread_since.pop(group, None)
            return True
        since = self._unread_since.setdefault(group, time.monotonic())
        if time.monotonic() - since < UNREAD_TRUSTED_AFTER_S:
            log.info("group not read this cycle", extra={"group": group, "described": described})
            return False
        # Gone for good (deleted by hand, expired): the group starts over as one never read.
        self._committing.discard(group)
        self._unread_since.pop(group, None)
        return True

    async def _members(
        self, groups: list[str]
    ) -> tuple[dict[str, bool], dict[str, set[str]], set[str]]:
        """Per group: whether it has live members, and the topics assigned to them; and the
        groups Kafka did not describe."""
        alive: dict[str, bool] = {}
        topics: dict[str, set[str]] = {}
        undescribed: set[str] = set()
        for group in groups:
            try:
                responses = await self.admin.describe_consumer_groups([group])
            except KafkaError as exc:
                # A cluster where no group ever committed has no coordinator yet.
                log.info("group not described", extra={"group": group, "error": str(exc)})
                undescribed.add(group)
                continue
            for response in responses:
                for _error, name, state, _kind, _protocol, members, *_ in response.groups:
                    alive[name] = state in LIVE_STATES and bool(members)
                    for member in members:
                        assignment = member[4]
                        if assignment:
                            decoded = ConsumerProtocolMemberAssignment.decode(assignment)
                            topics.setdefault(name, set()).update(
                                topic for topic, _ in decoded.assignment
                            )
        return alive, topics, undescribed

    async def _partitions(self, topics: set[str]) -> list[TopicPartition]:
        unknown = sorted(t for t in topics if t not in self._partition_counts)
        if unknown or time.monotonic() > self._partitions_checked + PARTITIONS_REFRESH_S:
            described = await self.admin.describe_topics(sorted(topics))
            self._partition_counts.update(
                {d["topic"]: len(d["partitions"]) for d in described if d["error_code"] == 0}
            )
            self._partitions_checked = time.monotonic()
        return [
            TopicPartition(topic, p)
            for topic in sorted(topics)
            for p in range(self._partition_counts.get(topic, 0))
        ]

    async def unwritten(
        self, behind: dict[TopicPartition, tuple[int, int]], within_s: float = 2.0
    ) -> dict[TopicPartition, Unwritten]:
        """Per partition given as (committed, last stable offset): the records between, read as
        a read_committed consumer receives them (transaction markers and aborted records are
        not records), and the timestamp of the oldest. Up to `COUNT_LIMIT` records are counted
        one by one; past that the offsets' difference stands in for the count."""
        if not behind:
            return {}
        self.records.assign(list(behind))
        for tp, (committed, _) in behind.items():
            self.records.seek(tp, committed)
        found: dict[TopicPartition, Unwritten] = {}
        counts: dict[TopicPartition, int] = dict.fromkeys(behind, 0)
        oldest: dict[TopicPartition, float] = {}
        deadline = time.monotonic() + within_s
        open_ = set(behind)
        while open_ and time.monotonic() < deadline:
            batch = await self.records.getmany(*open_, timeout_ms=200, max_records=COUNT_LIMIT)
            for tp, records in batch.items():
                end = behind[tp][1]
                for record in records:
                    if record.offset >= end:
                        break
                    oldest.setdefault(tp, record.timestamp / 1000)
                    counts[tp] += 1
            for tp in list(open_):
                position = await self.records.position(tp)
                committed, end = behind[tp]
                if position >= end:
                    open_.discard(tp)
                    found[tp] = Unwritten(counts[tp], oldest.get(tp), exact=True)
                elif counts[tp] >= COUNT_LIMIT:
                    open_.discard(tp)
                    found[tp] = Unwritten(end - committed, oldest.get(tp), exact=False)
        for tp in open_:  # not read in time: the offsets stand in
            committed, end = behind[tp]
            found[tp] = Unwritten(max(counts[tp], end - committed), oldest.get(tp), exact=False)
        return found


@dataclass(frozen=True)
class Unwritten:
    records: int
    oldest_at: float | None
    """Epoch seconds of the oldest unwritten record (its Kafka timestamp)."""
    exact: bool
