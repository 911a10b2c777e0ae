"""The chain-listener's JSON-RPC client: the shared one (`reservesync.jsonrpc`), counting its
failures in this service's metric."""

from __future__ import annotations

from reservesync.jsonrpc.client import Call, RpcError, RpcUnavailable
from reservesync.jsonrpc.client import JsonRpcClient as SharedClient

from chain_listener import metrics

__all__ = ["Call", "JsonRpcClient", "RpcError", "RpcUnavailable"]


class JsonRpcClient(SharedClient):
    def __init__(self, urls: list[str], *, timeout_s: float, batch_size: int) -> None:
        super().__init__(
            urls, timeout_s=timeout_s, batch_size=batch_size, errors=metrics.RPC_ERRORS
        )
