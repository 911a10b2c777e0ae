"""eth_getLogs answers decoded typed, then made `NodeLog`s: the first step of every log of a
backfill.

Parsing an answer into dicts (`json.loads`) and then each dict into a `NodeLog` took a quarter
of the chain-listener's CPU in a backfill. An answer whose logs all have the standard fields as
JSON strings (and `removed` a boolean) is decoded by msgspec into typed structs in one pass,
and each struct becomes a `NodeLog` through `NodeLog.of_strings`, as each dict does in
`NodeLog.parse`. Any other answer (a field missing, a number where a string belongs, not JSON
at all) falls back to `json.loads` and `NodeLog.parse`, so a hostile node's answer meets
exactly the checks it met before.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, TypedDict

import msgspec

from reservesync.event_decoding import NodeLog


class WireLog(msgspec.Struct, rename="camel", gc=False):
    """The standard fields of one log as the node sends them; others are not kept."""

    address: str
    topics: list[str]
    data: str
    block_number: str
    block_hash: str
    transaction_hash: str
    transaction_index: str
    log_index: str
    removed: bool = False


class _LogsAnswer(TypedDict, total=False):
    """A JSON-RPC answer to eth_getLogs, as a dict: the client reads its error and rate-limit
    signs from it as from any other answer."""

    jsonrpc: str
    id: int | str | None
    result: list[WireLog] | None
    error: dict[str, Any] | None


_DECODER = msgspec.json.Decoder(_LogsAnswer)


def decode_logs_answer(raw: bytes) -> Any:
    """The answer's JSON, its `result` a list of `WireLog`s where every log decoded typed;
    else `json.loads(raw)`, raising its `ValueError` for a body that is not JSON."""
    try:
        return _DECODER.decode(raw)
    except msgspec.DecodeError:
        return json.loads(raw)


def node_logs(entries: Iterable[Any]) -> list[NodeLog]:
    """An eth_getLogs result as `NodeLog`s, whichever way `decode_logs_answer` decoded it,
    or the error `NodeLog.parse` raises for the first log that is not one."""
    return [_node_log(e) if type(e) is WireLog else NodeLog.parse(e) for e in entries]


def raw_json(log: NodeLog) -> bytes:
    """The node's JSON of `log`, for a dead letter: the dict it came as, or the standard
    fields of a log decoded typed."""
    if isinstance(log.raw, WireLog):
        return msgspec.json.encode(log.raw)
    return json.dumps(log.raw, separators=(",", ":")).encode()


def _node_log(wire: WireLog) -> NodeLog:
    return NodeLog.of_strings(
        wire.address,
        wire.topics,
        wire.data,
        wire.block_number,
        wire.block_hash,
        wire.transaction_hash,
        wire.transaction_index,
        wire.log_index,
        wire.removed,
        wire,
    )
