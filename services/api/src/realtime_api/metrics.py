"""Prometheus metrics of the realtime API (served on /metrics by `add_probes`)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

REQUEST_SECONDS = Histogram(
    "api_request_duration_seconds",
    "From the first byte in to the last byte out, per route template, method and status",
    ["route", "method", "status"],
    buckets=(0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
RATE_LIMITED = Counter(
    "api_rate_limited_requests_total", "Requests refused with 429, per route", ["route"]
)
SNAPSHOT_BUILD_SECONDS = Histogram(
    "api_snapshot_build_seconds",
    "Time to rebuild a snapshot part (aggregates; reserves: read and hash the Merkle tree)",
    ["part"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
SNAPSHOT_FAILURES = Counter(
    "api_snapshot_failures_total", "Snapshot checks or rebuilds that failed (and were retried)"
)
SNAPSHOT_USERS = Gauge("api_snapshot_users", "Leaves of the current reserves Merkle tree")
SNAPSHOT_AS_OF = Gauge(
    "api_snapshot_as_of_seconds", "Unix time of the data a snapshot part shows", ["part"]
)
RESERVES_SATS = Gauge(
    "api_reserves_sats",
    "The published reserves, per side: rbtc_supply (totalSupply at EVM block B), btc_held "
    "(confirmed on the users' verified addresses at Bitcoin height H), oracle_reported, "
    "unbacked_by_btc",
    ["side"],
)
RESERVES_POINT = Gauge(
    "api_reserves_point",
    "The instant the published reserves are at: evm_block (B) and btc_height (H)",
    ["chain"],
)
