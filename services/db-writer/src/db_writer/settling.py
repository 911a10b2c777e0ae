"""A consumed record's outcome, worked out in the CPU half of a batch: the rows it maps to, a
removal to apply in order (a reorg, a forgotten user or address), or the dead letter it is."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from aiokafka import ConsumerRecord
from reservesync import addresses, bitcoin_address, dead_letters
from reservesync.crypto import FieldCipher
from reservesync.messages import ChainReorg, DeadLetter, InvalidMessage, decode
from reservesync.topics import BITCOIN_BALANCES, ORACLE_STATE

from db_writer.config import SOURCE_TOPICS
from db_writer.duplicates import Claim, claim_of
from db_writer.mapping import Rows, Source, rows_for
from db_writer.mapping.bitcoin import address_lookup

log = logging.getLogger(__name__)
SERVICE = "db-writer"
"""The service a dead letter names as the one that refused its record."""


@dataclass
class Settled:
    """One record's outcome: the rows it maps to, or the reason it goes to the DLQ."""

    record: ConsumerRecord[bytes, bytes]
    rows: Rows | None = None
    reorg: ChainReorg | None = None
    gone_user: str | None = None
    gone_bitcoin_address: bytes | None = None
    """The lookup hash of an address the bitcoin-listener no longer watches."""
    letter: DeadLetter | None = None
    claim: Claim | None = None

    @property
    def is_barrier(self) -> bool:
        """Removals must see every earlier row of their partition written first."""
        return (
            self.reorg is not None
            or self.gone_user is not None
            or self.gone_bitcoin_address is not None
        )


def settle(record: ConsumerRecord[bytes, bytes], cipher: FieldCipher) -> Settled:
    """Never raises: a record that cannot be decoded, validated or mapped is dead-lettered."""
    try:
        if record.topic == ORACLE_STATE.name and record.value is None:
            return Settled(record, gone_user=_user_key(record.key))
        if record.topic == BITCOIN_BALANCES.name and record.value is None:
            return Settled(record, gone_bitcoin_address=_bitcoin_key(record.key, cipher))
        message = decode(record.value, SOURCE_TOPICS[record.topic].carries)
        if isinstance(message, ChainReorg):
            return Settled(record, reorg=message)
        source = Source(record.topic, record.partition, record.offset)
        rows = rows_for(message, source, cipher)
        return Settled(record, rows=rows, claim=claim_of(message, record))
    except Exception as exc:  # whatever one record does, the others are written
        if not isinstance(exc, InvalidMessage):
            log.warning("record refused", extra={"error": f"{type(exc).__name__}: {exc}"})
        return Settled(record, letter=dead_letters.dead_letter(record, exc, SERVICE))


def _bitcoin_key(key: bytes | None, cipher: FieldCipher) -> bytes:
    text = (key or b"").decode(errors="replace")
    try:
        bitcoin_address.decode(text)
    except bitcoin_address.BadBitcoinAddress as exc:
        raise InvalidMessage(f"tombstone key is not a Bitcoin address: {exc}") from exc
    return address_lookup(text, cipher)


def _user_key(key: bytes | None) -> str:
    text = (key or b"").decode(errors="replace")
    try:
        return addresses.canonical(text)
    except addresses.InvalidAddress as exc:
        raise InvalidMessage(f"tombstone key {text!r} is not a user address: {exc}") from exc
