"""Which decoded events a listener publishes: all by default, or a configured subset.

Operators narrow a listener to reproduce an older pipeline (the seed's indexed only `Synced`)
or to backfill the events a narrower listener left out: one listener with `exclude` over the
past range and the widened main listener from where the narrow one stopped publish every event
exactly once between them. Logs are still fetched and checked for completeness in full; only
publication is selected.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from reservesync.contracts import SystemContract, events


def _known_names() -> dict[str, set[str]]:
    return {
        contract.value: {item["name"] for item in events(contract)} for contract in SystemContract
    }


def parse_event_names(names: Iterable[str]) -> frozenset[str]:
    """`Contract.Event` or a bare `Event` (every contract's event of that name), checked
    against the ABIs so a typo fails at start instead of silently publishing nothing."""
    known = _known_names()
    selected: set[str] = set()
    for raw in names:
        name = raw.strip()
        if not name:
            continue
        contract, _, event = name.rpartition(".")
        if contract:
            if event not in known.get(contract, set()):
                raise ValueError(f"{name!r}: no such event in the system contracts' ABIs")
        elif not any(event in names_ for names_ in known.values()):
            raise ValueError(f"{name!r}: no system contract has an event of that name")
        selected.add(name)
    return frozenset(selected)


@dataclass(frozen=True)
class EventSelection:
    include: frozenset[str] = frozenset()
    """Empty means every event."""
    exclude: frozenset[str] = frozenset()

    def wants(self, contract: str, event: str) -> bool:
        def named(names: frozenset[str]) -> bool:
            return event in names or f"{contract}.{event}" in names

        return (not self.include or named(self.include)) and not named(self.exclude)

    @property
    def everything(self) -> bool:
        return not self.include and not self.exclude
