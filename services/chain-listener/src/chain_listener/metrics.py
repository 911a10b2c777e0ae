"""Prometheus metrics of the chain-listener."""

from prometheus_client import Counter, Gauge

HEAD = Gauge("chain_listener_head_block", "Latest block number the node reports")
PUBLISHED_BLOCK = Gauge("chain_listener_published_block", "Last block whose events are published")
BLOCKS_BEHIND = Gauge("chain_listener_blocks_behind", "Head minus last published block")
EVENTS = Counter("chain_listener_events_published_total", "Events published", ["contract", "event"])
DEAD_LETTERS = Counter("chain_listener_dead_letters_total", "Logs sent to the DLQ", ["reason"])
RPC_ERRORS = Counter("chain_listener_rpc_errors_total", "Failed RPC calls", ["kind"])
