"""Dead letters (`rbtc.dlq.v1`) against the components whose messages they hold.

A record that a consumer could not accept never reached the database. If the record was a
valid message the tally counted it at the source already, so it is missing from the database
and the component shows it. If it was not (undecodable, a payload the oracle-logger could not
decrypt), nothing counted it: while the DLQ grows with such letters, each one counts as a
missing item of its component for `window_s`, so the score dips and the alert fires, and
recovers once the producer is fixed rather than forever carrying garbage.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from reservesync.dead_letters import is_conflicting_duplicate
from reservesync.messages import DeadLetter
from reservesync.topics import CHAIN_EVENTS, ORACLE_OPERATIONS, ORACLE_STATE, REGISTRY

from health_monitor.domain.score import Component

TALLIED_TOPICS = {
    CHAIN_EVENTS.name: Component.TRANSACTIONS,
    ORACLE_OPERATIONS.name: Component.ORACLE_OPERATIONS,
    ORACLE_STATE.name: Component.USERS,
    REGISTRY.name: Component.CONTRACTS,
}
Coordinate = tuple[str, int, int]
"""(source topic, partition, offset): one record, however often it is dead-lettered."""


def component_of(source_topic: str) -> Component | None:
    if source_topic in TALLIED_TOPICS:
        return TALLIED_TOPICS[source_topic]
    # The oracle-logger's pull mode dead-letters user states it could not read.
    return Component.USERS if source_topic.startswith("oracle:") else None


@dataclass(frozen=True)
class Letter:
    failed_at: float
    letter: DeadLetter
    component: Component | None

    @property
    def coordinate(self) -> Coordinate:
        return (self.letter.source_topic, self.letter.partition, self.letter.offset)


class DeadLetterBook:
    def __init__(self, window_s: float, keep_recent: int = 200, max_rejected: int = 100_000):
        self.window_s = window_s
        self.total: dict[str, int] = {}
        """Distinct dead letters per source topic since the DLQ's retention began."""
        self.recent: deque[Letter] = deque(maxlen=keep_recent)
        self._window: deque[Letter] = deque()
        self._seen: set[Coordinate] = set()
        self._rejected: deque[Coordinate] = deque(maxlen=max_rejected)
        self._rejected_set: set[Coordinate] = set()

    def rejected(self, topic: str, partition: int, offset: int) -> None:
        """The tally could not read this record either: it is not in any source count."""
        if len(self._rejected) == self._rejected.maxlen:
            self._rejected_set.discard(self._rejected[0])
        coordinate = (topic, partition, offset)
        self._rejected.append(coordinate)
        self._rejected_set.add(coordinate)

    def add(self, letter: DeadLetter) -> bool:
        """False for a letter of a record already dead-lettered (outboxes may resend).

        Its time is when the record failed, not when it is read here: a restart re-reads the
        whole DLQ, and old letters must not look like new growth."""
        entry = Letter(letter.failed_at.timestamp(), letter, component_of(letter.source_topic))
        if entry.coordinate in self._seen:
            return False
        self._seen.add(entry.coordinate)
        self.total[letter.source_topic] = self.total.get(letter.source_topic, 0) + 1
        self.recent.append(entry)
        self._window.append(entry)
        return True

    def expire(self, now: float) -> None:
        while self._window and self._window[0].failed_at < now - self.window_s:
            self._seen.discard(self._window.popleft().coordinate)

    def against(self, component: Component, now: float) -> int:
        """Recent dead letters of `component` that no source count includes."""
        self.expire(now)
        return sum(
            1
            for entry in self._window
            if entry.component is component
            and (
                entry.letter.source_topic not in TALLIED_TOPICS
                or entry.coordinate in self._rejected_set
            )
        )

    def growth(self, now: float, within_s: float) -> dict[str, int]:
        """Dead letters per source topic seen in the last `within_s` seconds."""
        return self._recent(now, within_s, lambda _: True)

    def conflicts(self, now: float, within_s: float) -> dict[str, int]:
        """Conflicting duplicates (a key written before with other content) per source topic
        dead-lettered in the last `within_s` seconds."""
        return self._recent(now, within_s, is_conflicting_duplicate)

    def _recent(
        self, now: float, within_s: float, which: Callable[[DeadLetter], bool]
    ) -> dict[str, int]:
        grown: dict[str, int] = {}
        for entry in reversed(self._window):
            if entry.failed_at < now - within_s:
                break
            if which(entry.letter):
                topic = entry.letter.source_topic
                grown[topic] = grown.get(topic, 0) + 1
        return grown
