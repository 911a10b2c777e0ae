"""The listener's own account of itself, as a process: `/healthz` while its loop turns,
`/readyz` 503 "waiting for rpc" while its node is down, ready again when it is back."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable

from devstack import procs, services
from devstack.paths import log_dir
from devstack.rpc_faults import Faults, FaultyRpcProxy

from tests.chain_listener.support import listener_harness as harness
from tests.support import probes
from tests.support.stack import Endpoints
from tests.support.waiting import eventually

LISTENER = "chain-listener"


async def _pulse_logged(prefix: str) -> dict[str, object] | None:
    log = log_dir() / f"{services.SERVICES[LISTENER].process(prefix)}.log"
    for line in reversed(log.read_text().splitlines()):
        entry = json.loads(line) if line.startswith("{") else {}
        if str(entry.get("msg", "")).startswith("chain-listener ok; last loop"):
            return dict(entry)
    return None


async def test_the_listener_reports_its_node_down_and_back(endpoints: Endpoints) -> None:
    settings = harness.dev_chain_listener(endpoints, "probes")
    prefix = settings.chain_transactional_id

    def answers(path: str, status: int, says: str) -> Awaitable[bool]:
        return probes.answers(LISTENER, prefix, path, status, says)

    async with FaultyRpcProxy(endpoints.rpc_url, Faults()) as node:
        env = {
            **harness.environment(settings),
            "CHAIN_RPC_URL": node.url,
            "METRICS_PORT": str(procs.free_port(0)),
            "PULSE_LOG_INTERVAL_S": "0.5",
        }
        await asyncio.to_thread(
            services.start, [LISTENER], env, stack=endpoints.env(), prefix=prefix
        )
        try:
            await eventually(lambda: answers("/readyz", 200, "chain-listener ok"), what="ready")
            node.outage = True
            await eventually(
                lambda: answers("/readyz", 503, "waiting for rpc"), what="the outage seen"
            )
            # Alive all the while: restarting a listener does not bring its node back.
            assert await answers("/healthz", 200, "waiting for rpc")
            node.outage = False
            await eventually(lambda: answers("/readyz", 200, "chain-listener ok"), what="back")
            _, metrics = await asyncio.to_thread(
                services.probe, LISTENER, "/metrics", prefix=prefix
            )
            assert "chain_listener_rpc_errors_total" in metrics
            # The same line in the structured log, now and then.
            logged = await eventually(lambda: _pulse_logged(prefix), what="the pulse in the log")
            assert logged is not None
            assert logged["level"] == "info"
            assert logged["alive"] is True
        finally:
            await asyncio.to_thread(services.stop, [LISTENER], prefix=prefix)
