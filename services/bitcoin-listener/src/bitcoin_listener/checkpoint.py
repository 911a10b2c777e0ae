"""The listener's whole state, kept in Kafka (compacted `rbtc.bitcoin.checkpoints.v1`) and
written in the same Kafka transaction as the balances it accounts for, so a listener killed at
any moment resumes from its last commit and publishes nothing twice.

It holds the unspent outputs of every watched address (so no address index is needed), what
each of the last processed blocks did to them (to take a reorg back), the balance last
published per address (to publish only changes), and how far the oracle's state topic has been
judged (so a refused state record goes to the dead-letter topic once).
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt
from reservesync import checkpoints
from reservesync.messages import Network
from reservesync.settings import KafkaSettings
from reservesync.topics import BITCOIN_CHECKPOINTS
from reservesync.types import BitcoinHash, Sats

Outpoints = dict[str, Sats]
"""`txid:n` -> sats"""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Movement(_Strict):
    address: str
    outpoint: str
    sats: Sats


class ProcessedBlock(_Strict):
    """One processed block and what it did to the watched addresses' outputs."""

    height: NonNegativeInt
    hash: BitcoinHash
    time: datetime
    created: list[Movement] = Field(default_factory=list)
    spent: list[Movement] = Field(default_factory=list)


class BitcoinCheckpoint(_Strict):
    network: Network
    next_height: NonNegativeInt
    """The first height not yet processed."""
    recent: list[ProcessedBlock] = Field(default_factory=list)
    """The last processed blocks, oldest first, ending at `next_height - 1`."""
    outputs: dict[str, Outpoints] = Field(default_factory=dict)
    """Watched address -> its unspent outputs in processed blocks."""
    published: dict[str, Sats] = Field(default_factory=dict)
    """Watched address -> the confirmed sats last published for it."""
    state_offsets: dict[int, NonNegativeInt] = Field(default_factory=dict)
    """Partition of the oracle's state topic -> the offset up to which its records were judged
    (and refused ones sent to the dead-letter topic)."""


async def load(settings: KafkaSettings, key: bytes) -> BitcoinCheckpoint | None:
    value = await checkpoints.latest(settings, BITCOIN_CHECKPOINTS.name, key)
    return BitcoinCheckpoint.model_validate_json(value) if value is not None else None
