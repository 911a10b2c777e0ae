"""Raw logs → `chain.event/v1` (the decoding is `reservesync.event_decoding`, shared with the
health service); what does not decode becomes a dead letter with the reason."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from reservesync.dead_letters import dead_letter
from reservesync.event_decoding import EventDecoder as _Decoder
from reservesync.event_decoding import UnknownLog
from reservesync.event_encoding import EncodedEvent, timestamp_json
from reservesync.log_answers import raw_json
from reservesync.messages import DeadLetter

from chain_listener import metrics
from chain_listener.completeness import VerifiedRange
from chain_listener.node import Log
from chain_listener.selection import EventSelection

SERVICE = "chain-listener"
__all__ = ["SERVICE", "ChainLogSource", "DecodedRange", "EventDecoder", "UnknownLog"]


@dataclass
class ChainLogSource:
    """Where an undecodable log came from, in the shape `dead_letter` records: the chain
    stands in for a topic and the block number for an offset, so the letter names the log."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


@dataclass(frozen=True)
class DecodedRange:
    """What the logs of one verified range become: the selected events as Kafka records, and
    a dead letter for each log that does not decode."""

    events: list[EncodedEvent] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    refusals: Counter[str] = field(default_factory=Counter)
    """Dead letters by the error's name."""
    not_selected: Counter[tuple[str, str]] = field(default_factory=Counter)
    """(contract, event) of the events CHAIN_EVENTS_INCLUDE/EXCLUDE left out."""

    def count_published(self) -> None:
        """The range's share of the metrics, once its transaction has committed."""
        published = Counter((e.contract, e.event) for e in self.events)
        for (contract, name), count in published.items():
            metrics.EVENTS.labels(contract, name).inc(count)
        for (left_out, event), count in self.not_selected.items():
            metrics.EVENTS_NOT_SELECTED.labels(left_out, event).inc(count)
        for reason, count in self.refusals.items():
            metrics.DEAD_LETTERS.labels(reason).inc(count)


class EventDecoder(_Decoder):
    def decode_range(self, verified: VerifiedRange, selection: EventSelection) -> DecodedRange:
        decoded = DecodedRange()
        times = {h.number: (h.timestamp, timestamp_json(h.timestamp)) for h in verified.headers}
        everything = selection.everything
        for entry in verified.logs:
            try:
                event = self.encode(entry, *times[entry.block_number])
            except ValueError as error:
                decoded.refusals[type(error).__name__] += 1
                decoded.dead_letters.append(self.dead_letter(entry, error))
                continue
            # The contract is a StrEnum: its member is its name, without the enum's lookup.
            if everything or selection.wants(event.contract, event.event):
                decoded.events.append(event)
            else:
                decoded.not_selected[(event.contract, event.event)] += 1
        return decoded

    def dead_letter(self, log: Log, error: Exception) -> DeadLetter:
        source = ChainLogSource(
            topic=f"chain:{self.chain_id}",
            partition=0,
            offset=log.block_number,
            key=log.address.encode(),
            value=raw_json(log),
        )
        return dead_letter(source, error, SERVICE)
