"""What a running chain-listener process has asked its node, read from its own metrics
(`chain_listener_rpc_calls_total`, each member of a batch counted): the calls per block of a
benchmark, and which way it noticed blocks (`chain_listener_head_source`)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from bench import service_metrics

LISTENER = "chain-listener"


@dataclass(frozen=True)
class Snapshot:
    calls: Counter[str]
    """JSON-RPC method -> calls so far."""
    mode: str
    """The head source in use: push or poll."""
    notifications: float

    def since(self, earlier: Snapshot) -> Counter[str]:
        return Counter(
            {m: n - earlier.calls[m] for m, n in self.calls.items() if n > earlier.calls[m]}
        )


def snapshot(prefix: str) -> Snapshot:
    calls: Counter[str] = Counter()
    modes: dict[str, float] = {}
    notifications = 0.0
    for sample in service_metrics.samples(LISTENER, prefix):
        if sample.name == "chain_listener_rpc_calls_total":
            calls[sample.labels["method"]] = int(sample.value)
        elif sample.name == "chain_listener_head_source":
            modes[sample.labels["mode"]] = sample.value
        elif sample.name == "chain_listener_head_notifications_total":
            notifications = sample.value
    mode = next((name for name, value in modes.items() if value == 1), "unknown")
    return Snapshot(calls, mode, notifications)


def per_block(calls: Counter[str], blocks: int) -> str:
    """`4.0 (eth_blockNumber 1.0, eth_getLogs 1.0, ...)` for `blocks` blocks."""
    total = sum(calls.values()) / blocks
    each = ", ".join(f"{method} {count / blocks:.2f}" for method, count in sorted(calls.items()))
    return f"{total:.2f} ({each})"
