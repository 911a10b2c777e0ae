"""Which operations were accepted with which content: the decision behind 202, "already
accepted" and 409, made before anything is published.

`Intake` is what the publisher asks; `shared_state.PostgresState` answers it for the service
(shared by every replica, surviving restarts); `MemoryIntake` answers it for the one-shot
reconcile command, which has no shared state to consult and whose republishing the db-writer
dedupes on `operation_id`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from oracle_logger.expiring_keys import RecentKeys


class IdConflict(Exception):
    """An operation id that was already accepted arrives with different content."""

    def __init__(self, ids: list[str]) -> None:
        super().__init__(", ".join(ids))
        self.ids = ids


@dataclass(frozen=True)
class Claim:
    todo: list[str]
    """Ids to publish now: new ones, and recorded ones Kafka never acknowledged (a crash
    between recording and the acknowledgement must not turn a retry into a loss)."""
    done: list[str]
    """Ids whose identical content Kafka already acknowledged: answered, not published."""


class Intake(Protocol):
    async def claim(self, digests: Mapping[str, str], oracles: Mapping[str, str]) -> Claim:
        """Record `digests` (operation id -> content digest; `oracles`: id -> oracle id)
        atomically, or raise `IdConflict` naming every id known with another digest (then
        nothing is recorded)."""

    async def published(self, digests: Mapping[str, str]) -> None:
        """Kafka acknowledged these ids."""


class MemoryIntake:
    def __init__(self, capacity: int, ttl_s: float) -> None:
        self._acknowledged = RecentKeys(capacity, ttl_s)

    async def claim(self, digests: Mapping[str, str], oracles: Mapping[str, str]) -> Claim:
        known = {i: self._acknowledged.get(i) for i in digests}
        conflicts = [i for i, d in known.items() if d is not None and d != digests[i]]
        if conflicts:
            raise IdConflict(conflicts)
        return Claim(
            todo=[i for i, d in known.items() if d is None],
            done=[i for i, d in known.items() if d is not None],
        )

    async def published(self, digests: Mapping[str, str]) -> None:
        for op_id, value_digest in digests.items():
            self._acknowledged.put(op_id, value_digest)
