"""The seed's own check, beside health's. The seed's report scored the database against what its
own pipeline had published, so a transaction its narrow listener never published could not be
missing: that is how it said 68.4 %. Health reads the chain itself and counts those
transactions as missing. The demo prints both figures for the same state, so the seed's number
can be recognised and the difference explained."""

from __future__ import annotations

from dataclasses import dataclass

from devstack.topic_reading import read_all
from health_monitor.domain import score
from health_monitor.domain.score import Component, Counts
from health_monitor.models import HealthReport
from reservesync import ledger
from reservesync.messages import ChainEvent, InvalidMessage, decode
from reservesync.topics import CHAIN_EVENTS


@dataclass(frozen=True)
class SeedCheck:
    score: float
    published_transactions: int
    world_transactions: int

    @property
    def score_text(self) -> str:
        return f"{self.score:.1f}%"


async def published_transactions(bootstrap: str) -> int:
    """Transaction-bearing events the chain-listener published (each committed record once)."""
    count = 0
    for _, value, _, _ in await read_all(bootstrap, CHAIN_EVENTS.name):
        try:
            message = decode(value, CHAIN_EVENTS.carries)
        except InvalidMessage:
            continue
        if isinstance(message, ChainEvent) and ledger.movement(message) is not None:
            count += 1
    return count


def seed_score(report: HealthReport, published: int) -> SeedCheck:
    """`report`'s components with the transactions' source taken from what was published
    instead of the chain's logs, scored by the same rule."""
    counts: dict[Component, Counts] = {}
    world = 0
    for part in report.components:
        if part.component is Component.TRANSACTIONS:
            world = part.source_count
            counts[part.component] = Counts(database=part.database_count, source=published)
        else:
            counts[part.component] = Counts(
                database=part.database_count,
                source=part.source_count,
                missing=part.missing,
                extra=part.extra,
                altered=part.altered,
            )
    return SeedCheck(score.total(score.components(counts)), published, world)
