"""The offset sampler against what Kafka's admin API answers while a broker restarts: no
offsets for a group that had some (its coordinator loading), an error, a group not described.
Such a cycle is no sample; taken as one, it said the writer went back to the start of its
topics (Burrow's REWIND for a whole window) after every broker restart."""

from __future__ import annotations

from collections.abc import Iterable
from types import SimpleNamespace

import pytest
from aiokafka import TopicPartition
from aiokafka.coordinator.protocol import ConsumerProtocolMemberAssignment
from aiokafka.errors import GroupCoordinatorNotAvailableError
from aiokafka.structs import OffsetAndMetadata
from health_monitor import offsets as sampling
from health_monitor.offsets import OffsetSampler
from reservesync.settings import KafkaSettings

GROUP, TOPIC = "rbtc-db-writer", "rbtc.chain.events.v1"
TP0, TP1 = TopicPartition(TOPIC, 0), TopicPartition(TOPIC, 1)


class Broker:
    """The admin API and the log ends as a broker answers them; `restarting` makes it answer
    as a restarting one does."""

    def __init__(self) -> None:
        self.committed = {TP0: 40, TP1: 60}
        self.restarting: str | None = None
        """None, "loading" (no offsets, no error), or "down" (errors)."""

    async def list_consumer_group_offsets(self, group: str) -> dict[TopicPartition, object]:
        if self.restarting == "down":
            raise GroupCoordinatorNotAvailableError
        if self.restarting == "loading":
            return {}
        return {tp: OffsetAndMetadata(offset, "") for tp, offset in self.committed.items()}

    async def describe_consumer_groups(self, groups: list[str]) -> list[SimpleNamespace]:
        if self.restarting == "down":
            raise GroupCoordinatorNotAvailableError
        assignment = ConsumerProtocolMemberAssignment(0, [(TOPIC, [0, 1])], b"").encode()
        member = ("member-1", None, "client", "host", assignment)
        return [SimpleNamespace(groups=[(0, groups[0], "Stable", "consumer", "range", [member])])]

    async def describe_topics(self, topics: list[str]) -> list[dict[str, object]]:
        return [{"topic": t, "error_code": 0, "partitions": [{}, {}]} for t in topics]

    async def end_offsets(self, partitions: Iterable[TopicPartition]) -> dict[TopicPartition, int]:
        return dict.fromkeys(partitions, 100)

    async def beginning_offsets(
        self, partitions: Iterable[TopicPartition]
    ) -> dict[TopicPartition, int]:
        return dict.fromkeys(partitions, 0)


@pytest.fixture
def broker() -> Broker:
    return Broker()


@pytest.fixture
async def sampler(broker: Broker) -> OffsetSampler:
    sampler = OffsetSampler(KafkaSettings(kafka_bootstrap_servers="127.0.0.1:9"))
    sampler.admin = broker
    sampler.logs = broker
    return sampler


async def one(sampler: OffsetSampler) -> sampling.GroupSample:
    (sample,) = await sampler.sample([GROUP])
    return sample


@pytest.mark.parametrize("restarting", ["loading", "down"])
async def test_a_restarting_broker_gives_no_sample_until_it_answers_again(
    sampler: OffsetSampler, broker: Broker, restarting: str
) -> None:
    before = await one(sampler)
    assert before.read
    assert before.alive
    assert before.committed == {TP0: 40, TP1: 60}

    broker.restarting = restarting
    between = await one(sampler)
    assert not between.read
    assert between.committed == {}  # not the start of the topics

    broker.restarting = None
    broker.committed = {TP0: 45, TP1: 60}
    after = await one(sampler)
    assert after.read
    assert after.committed == {TP0: 45, TP1: 60}


async def test_a_group_that_never_committed_is_read_from_the_start_of_its_topics(
    sampler: OffsetSampler, broker: Broker
) -> None:
    # A writer that never started has lag too: nothing committed is a reading of its own.
    sampler.expected = {GROUP: (TOPIC,)}
    broker.committed = {}
    sample = await one(sampler)
    assert sample.read
    assert sample.committed == {TP0: 0, TP1: 0}
    assert sample.ends == {TP0: 100, TP1: 100}


async def test_offsets_gone_for_longer_than_a_restart_are_taken_as_gone(
    sampler: OffsetSampler, broker: Broker, monkeypatch: pytest.MonkeyPatch
) -> None:
    sampler.expected = {GROUP: (TOPIC,)}
    assert (await one(sampler)).read
    broker.restarting = "loading"  # the group's offsets deleted by hand answer the same
    assert not (await one(sampler)).read
    monkeypatch.setattr(sampling, "UNREAD_TRUSTED_AFTER_S", 0.0)
    gone = await one(sampler)
    assert gone.read
    assert gone.committed == {TP0: 0, TP1: 0}
