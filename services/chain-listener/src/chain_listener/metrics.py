"""Prometheus metrics of the chain-listener."""

from prometheus_client import Counter, Gauge

HEAD = Gauge("chain_listener_head_block", "Latest block number the node reports")
PUBLISHED_BLOCK = Gauge("chain_listener_published_block", "Last block whose events are published")
BLOCKS_BEHIND = Gauge("chain_listener_blocks_behind", "Head minus last published block")
EVENTS = Counter("chain_listener_events_published_total", "Events published", ["contract", "event"])
EVENTS_NOT_SELECTED = Counter(
    "chain_listener_events_not_selected_total",
    "Decoded events left out by CHAIN_EVENTS_INCLUDE/EXCLUDE",
    ["contract", "event"],
)
DEAD_LETTERS = Counter("chain_listener_dead_letters_total", "Logs sent to the DLQ", ["reason"])
REORGS = Counter("chain_listener_reorgs_total", "Reorgs of published blocks", ["depth"])
DEEP_REORGS = Counter(
    "chain_listener_deep_reorgs_total", "Reorgs deeper than the confirmations (alert raised)"
)
RPC_ERRORS = Counter("chain_listener_rpc_errors_total", "Failed RPC calls", ["kind"])
RANGE_SIZE = Gauge("chain_listener_range_blocks", "Blocks asked for in the latest eth_getLogs")
INCOMPLETE_ANSWERS = Counter(
    "chain_listener_incomplete_answers_total",
    "eth_getLogs answers found short (kind: truncated, a cut tail; omitted, a hole before "
    "later logs) or inconsistent, and fetched again",
    ["kind"],
)
BLOCK_REQUERIES = Counter(
    "chain_listener_block_requeries_total",
    "Blocks read again from their receipts to prove an eth_getLogs answer complete",
)
RPC_CALLS = Counter(
    "chain_listener_rpc_calls_total",
    "JSON-RPC calls made (each member of a batch counted; retries not), what providers bill",
    ["method"],
)
HEAD_SOURCE = Gauge(
    "chain_listener_head_source",
    "How new blocks are noticed now: 1 on the mode in use (push: a live newHeads "
    "subscription; poll: asking every CHAIN_POLL_INTERVAL_S)",
    ["mode"],
)
HEAD_NOTIFICATIONS = Counter(
    "chain_listener_head_notifications_total", "newHeads notifications received"
)
HEAD_SUBSCRIPTIONS = Counter(
    "chain_listener_head_subscriptions_total", "newHeads subscriptions the node accepted"
)
HEAD_RECONNECTS = Counter(
    "chain_listener_head_reconnects_total",
    "Attempts to subscribe again after the subscription dropped or was refused",
    ["reason"],
)
