"""Raw logs → `chain.event/v1` (the decoding is `reservesync.event_decoding`, shared with the
health service); what does not decode becomes a dead letter with the reason."""

from __future__ import annotations

import json
from dataclasses import dataclass

from reservesync.dead_letters import dead_letter
from reservesync.event_decoding import EventDecoder as _Decoder
from reservesync.event_decoding import UnknownLog
from reservesync.messages import DeadLetter

from chain_listener.node import Log

SERVICE = "chain-listener"
__all__ = ["SERVICE", "ChainLogSource", "EventDecoder", "UnknownLog"]


@dataclass
class ChainLogSource:
    """Where an undecodable log came from, in the shape `dead_letter` records: the chain
    stands in for a topic and the block number for an offset, so the letter names the log."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


class EventDecoder(_Decoder):
    def dead_letter(self, log: Log, error: Exception) -> DeadLetter:
        source = ChainLogSource(
            topic=f"chain:{self.chain_id}",
            partition=0,
            offset=log.block_number,
            key=log.address.encode(),
            value=json.dumps(log.raw, separators=(",", ":")).encode(),
        )
        return dead_letter(source, error, SERVICE)
