"""Prometheus metrics of the oracle-logger (served on /metrics by `add_probes`)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

ACCEPTED = Counter(
    "oracle_logger_accepted_items_total",
    "Items acknowledged by Kafka (kind: operation|state, source: push|pull)",
    ["kind", "source"],
)
DUPLICATES = Counter(
    "oracle_logger_duplicate_items_total",
    "Operations answered as accepted without publishing again (acknowledged earlier)",
    ["kind"],
)
REJECTED = Counter(
    "oracle_logger_rejected_requests_total",
    "Requests refused, by endpoint and reason",
    ["endpoint", "reason"],
)
PUBLISH_SECONDS = Histogram(
    "oracle_logger_publish_seconds",
    "From the first send of a batch to Kafka's acknowledgement of its last record",
    ["topic"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
STATE_PULLS = Counter(
    "oracle_logger_state_pulls_total",
    "Pulls of the oracle's /users endpoint, by outcome",
    ["outcome"],
)
