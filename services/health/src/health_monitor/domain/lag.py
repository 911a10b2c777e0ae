"""Lag per consumer group, topic and partition, from offset samples (evaluated by `burrow`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

from health_monitor.domain.burrow import LagPoint, LagStatus, PartitionWindow, worst

TopicPartition = tuple[str, int]


@dataclass(frozen=True)
class Offsets:
    """One partition as sampled: the group's committed offset, the log's end, and what lies
    between as a consumer reads it."""

    committed: int
    end: int
    unwritten: int
    """Records (not offsets) between the committed offset and the last stable offset."""
    oldest_at: float | None = None


class PartitionLag(BaseModel):
    model_config = ConfigDict(frozen=True)
    topic: str
    partition: int
    committed: int
    end: int
    lag: int = Field(description="messages not yet committed by the group")
    lag_seconds: float = Field(description="age of the oldest message not yet committed")
    status: LagStatus


class GroupLag(BaseModel):
    model_config = ConfigDict(frozen=True)
    group: str
    consumer_alive: bool = Field(description="the group has live members")
    status: LagStatus = Field(description="the worst status of its partitions")
    lag: int
    max_lag_seconds: float
    partitions: list[PartitionLag]


class LagBook:
    def __init__(self, window: int, history_s: float) -> None:
        self.window = window
        self.history_s = history_s
        self._windows: dict[tuple[str, str, int], PartitionWindow] = {}

    def observe(
        self,
        group: str,
        at: float,
        offsets: Mapping[TopicPartition, Offsets],
        *,
        consumer_alive: bool,
    ) -> GroupLag:
        partitions = []
        for (topic, partition), sampled in sorted(offsets.items()):
            key = (group, topic, partition)
            window = self._windows.get(key)
            if window is None:
                window = self._windows[key] = PartitionWindow(self.window, self.history_s)
            seen = window.observe(
                at,
                sampled.committed,
                sampled.end,
                sampled.unwritten,
                sampled.oldest_at,
                consumer_alive=consumer_alive,
            )
            partitions.append(
                PartitionLag(
                    topic=topic,
                    partition=partition,
                    committed=seen.committed,
                    end=seen.end,
                    lag=seen.lag,
                    lag_seconds=seen.lag_seconds,
                    status=seen.status,
                )
            )
        return GroupLag(
            group=group,
            consumer_alive=consumer_alive,
            status=worst([p.status for p in partitions]),
            lag=sum(p.lag for p in partitions),
            max_lag_seconds=max((p.lag_seconds for p in partitions), default=0.0),
            partitions=partitions,
        )

    def recent(self, group: str) -> dict[TopicPartition, list[LagPoint]]:
        return {
            (topic, partition): list(window.recent)
            for (g, topic, partition), window in sorted(self._windows.items())
            if g == group
        }
