"""From messages to rows: the one place that says what each message becomes in Postgres.

The tables of each mapping are documented in `chain`, `oracle` and `registry`. Every row carries
the topic, partition and offset of its message.
"""

from __future__ import annotations

from reservesync.crypto import FieldCipher
from reservesync.messages import (
    ChainEvent,
    Message,
    OracleOperation,
    OracleUserState,
    RegisteredContract,
)

from db_writer.mapping.chain import chain_event_rows
from db_writer.mapping.oracle import operation_rows, state_rows
from db_writer.mapping.registry import registry_rows
from db_writer.mapping.rows import Row, Rows, Source

__all__ = ["Row", "Rows", "Source", "rows_for"]


def rows_for(message: Message, source: Source, cipher: FieldCipher) -> Rows:
    if isinstance(message, ChainEvent):
        return chain_event_rows(message, source)
    if isinstance(message, OracleOperation):
        return operation_rows(message, source, cipher)
    if isinstance(message, OracleUserState):
        return state_rows(message, source, cipher)
    if isinstance(message, RegisteredContract):
        return registry_rows(message, source)
    raise TypeError(f"no mapping for {type(message).__name__}")
