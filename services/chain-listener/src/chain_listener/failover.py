"""Failover between RPC URLs: shared with the bitcoin-listener (`reservesync.jsonrpc`)."""

from reservesync.jsonrpc.failover import Endpoint, EndpointPool, parse_retry_after

__all__ = ["Endpoint", "EndpointPool", "parse_retry_after"]
