"""Prometheus metrics of the bitcoin-listener."""

from prometheus_client import Counter, Gauge

HEAD = Gauge("bitcoin_listener_head_height", "Height of the node's best block")
PROCESSED = Gauge("bitcoin_listener_processed_height", "Last confirmed height processed")
WATCHED = Gauge("bitcoin_listener_watched_addresses", "Verified addresses watched")
BALANCES = Counter("bitcoin_listener_balances_published_total", "Balance records published")
TOMBSTONES = Counter("bitcoin_listener_addresses_dropped_total", "Addresses no longer watched")
REORGS = Counter("bitcoin_listener_reorgs_total", "Reorgs that took processed blocks back")
RESCANS = Counter("bitcoin_listener_rescans_total", "Rescans for newly watched addresses")
DEAD_LETTERS = Counter("bitcoin_listener_dead_letters_total", "State records refused", ["reason"])
RPC_ERRORS = Counter("bitcoin_listener_rpc_errors_total", "Failed RPC calls", ["kind"])
NODE_PROBLEMS = Counter(
    "bitcoin_listener_node_inconsistencies_total",
    "Times the node contradicted itself or the processed chain",
    ["kind"],
)
