"""The chain-listener's JSON-RPC client: the shared one (`reservesync.jsonrpc`), counting its
failures and its calls in this service's metrics (metered providers bill per call, so what
the listener costs per block is measured, not guessed)."""

from __future__ import annotations

from reservesync.jsonrpc.client import Call, RpcError, RpcUnavailable
from reservesync.jsonrpc.client import JsonRpcClient as SharedClient

from chain_listener import metrics

__all__ = ["Call", "JsonRpcClient", "RpcError", "RpcUnavailable"]


class JsonRpcClient(SharedClient):
    def __init__(self, urls: list[str], *, timeout_s: float, batch_size: int) -> None:
        super().__init__(
            urls,
            timeout_s=timeout_s,
            batch_size=batch_size,
            errors=metrics.RPC_ERRORS,
            calls=metrics.RPC_CALLS,
        )
