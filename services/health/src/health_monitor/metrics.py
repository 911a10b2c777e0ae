"""Prometheus metrics of the health service (served on `/metrics`)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from health_monitor.models import ReservesReport

SCORE = Gauge("health_score_percent", "The weighted health score (SPEC section 6)")
BACKING_RATIO = Gauge(
    "health_backing_ratio",
    "Total BTC the oracle reports / total rBTC, as the API last published them (1 = fully backed)",
)
COMPONENT_PERCENT = Gauge(
    "health_component_percent",
    "Whole percent of a component's source in the database",
    ["component"],
)
COMPONENT_COUNT = Gauge(
    "health_component_count", "Items of a component per side", ["component", "side"]
)
LAG_MESSAGES = Gauge(
    "health_consumer_lag_messages", "Messages not committed", ["group", "topic", "partition"]
)
LAG_SECONDS = Gauge(
    "health_consumer_lag_seconds",
    "Age of the oldest message not committed",
    ["group", "topic", "partition"],
)
GROUP_STATUS = Gauge(
    "health_consumer_group_status",
    "1 for the group's current Burrow status, 0 for the others",
    ["group", "status"],
)
ALERTS = Counter("health_alerts_total", "Alerts announced", ["kind", "severity", "state"])
ALERT_PUBLISH_FAILURES = Counter(
    "health_alert_publish_failures_total", "Alerts Kafka did not acknowledge in time"
)
WEBHOOK = Counter("health_webhook_deliveries_total", "Webhook deliveries", ["outcome"])
DEAD_LETTERS = Gauge("health_dead_letters", "Dead letters on the DLQ per source", ["source_topic"])
SOURCE_RECORDS = Counter("health_source_records_total", "Records read from the topics", ["topic"])
SOURCE_RECORDS_REJECTED = Counter(
    "health_source_records_rejected_total",
    "Records of the topics nothing could read or count (skipped)",
    ["topic"],
)
CONFLICTING_DUPLICATES = Gauge(
    "health_conflicting_duplicates",
    "Records the db-writer dead-lettered as conflicting duplicates (its sink counter)",
)
SOURCES_READY = Gauge("health_sources_ready", "1 once everything published has been read")
CYCLE_SECONDS = Histogram(
    "health_cycle_seconds",
    "Time to evaluate the health once",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
CYCLE_ERRORS = Counter("health_cycle_errors_total", "Evaluations that failed", ["stage"])
PRODUCER_UP = Gauge(
    "health_producer_up", "1 when the producer's heartbeat answers, else 0", ["producer"]
)
WORLD_BLOCK = Gauge("health_world_block", "Chain blocks: the head, and read by health", ["what"])
CANARY_SECONDS = Gauge(
    "health_canary_round_trip_seconds", "A marker from produce to read back committed"
)
ORACLE_USERS = Gauge(
    "health_oracle_users",
    "Users whose synced sats disagree with Bitcoin: diverging, or synced down where Bitcoin "
    "shows no drop (failed_to_zero)",
    ["state"],
)
BURNS_IN_WINDOW = Gauge(
    "health_oracle_burned_users_in_window",
    "Users burned (emergency burns, syncs down to 0) within the mass-burn window",
)
RESERVES_SATS = Gauge(
    "health_reserves_sats",
    "The token's supply (newest reserves state), the oracle's mints pending (not synced in the "
    "database yet) and the BTC Bitcoin shows on the verified addresses",
    ["side"],
)
BITCOIN_BACKING_RATIO = Gauge(
    "health_bitcoin_backing_ratio",
    "BTC Bitcoin shows on the verified addresses / rBTC supply (Secure-Mint rule: >= 1)",
)


def observe_reserves(reserves: ReservesReport) -> None:
    ORACLE_USERS.labels("failed_to_zero").set(reserves.users_failed_to_zero)
    ORACLE_USERS.labels("diverging").set(reserves.users_diverging)
    BURNS_IN_WINDOW.set(reserves.burned_users_in_window)
    RESERVES_SATS.labels("pending_mint").set(reserves.pending_mint_sats)
    if reserves.supply_sats is not None:
        RESERVES_SATS.labels("supply").set(reserves.supply_sats)
    if reserves.bitcoin_sats is not None:
        RESERVES_SATS.labels("bitcoin").set(reserves.bitcoin_sats)
    if reserves.bitcoin_backing_ratio is not None:
        BITCOIN_BACKING_RATIO.set(reserves.bitcoin_backing_ratio)
