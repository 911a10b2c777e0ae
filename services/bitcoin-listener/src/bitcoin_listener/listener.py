"""The listener's loop: keep the watch list current, follow the chain, and after every move
publish the balances that changed, with the checkpoint, in one Kafka transaction.

Order of a turn: addresses no longer listed are dropped (a tombstone each); newly listed ones
are rescanned up to the processed height and published there (once, even at 0); then the
chain moves one step (a confirmed block, or a reorg taken back). A balance is published at the
processed tip (height, hash and time of that block) whenever it differs from the last one
published for that address.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from reservesync.heartbeat import heartbeat
from reservesync.jsonrpc.client import JsonRpcClient, RpcError
from reservesync.messages import BitcoinAddressBalance

from bitcoin_listener import checkpoint, metrics
from bitcoin_listener.config import Settings
from bitcoin_listener.esplora_node import EsploraNode
from bitcoin_listener.follower import ChainMoved, Follower
from bitcoin_listener.node import BitcoinNode, ChainSource, NodeInconsistent
from bitcoin_listener.publisher import BalancePublisher, Outgoing
from bitcoin_listener.watchlist import Watchlist

log = logging.getLogger(__name__)
CONSISTENT_NODE = "a consistent bitcoin node"


def source_of(settings: Settings) -> ChainSource:
    """The Bitcoin source the settings name: an Esplora HTTP API, or a node's JSON-RPC."""
    if settings.btc_esplora_url is not None:
        return EsploraNode(settings.btc_esplora_url, timeout_s=settings.bitcoin_rpc_timeout_s)
    client = JsonRpcClient(
        settings.rpc_urls,
        timeout_s=settings.bitcoin_rpc_timeout_s,
        batch_size=settings.bitcoin_rpc_batch_size,
        errors=metrics.RPC_ERRORS,
        auth=settings.rpc_auth,
        dependency="bitcoin-rpc",
    )
    return BitcoinNode(client)


class BitcoinListener:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.node = source_of(settings)
        self.publisher = BalancePublisher(settings)
        self.published: dict[str, int] = {}
        self.uncommitted_blocks = 0
        self.problem: str | None = None
        self.dropped: list[str] = []
        """Addresses dropped since the last commit: their tombstones go with the next one."""

    async def run(self, stop: asyncio.Event) -> None:
        # The producer starts first: that aborts a killed predecessor's open transaction, so
        # the checkpoint read next is the last one committed.
        await self.publisher.start()
        saved = await checkpoint.load(self.settings, self.settings.checkpoint_key)
        self.published = dict(saved.published) if saved else {}
        self.follower = Follower(self.settings, self.node, saved)
        self.watchlist = Watchlist(
            self.settings, self.settings.bitcoin_network, saved.state_offsets if saved else {}
        )
        try:
            await self.watchlist.start()
            log.info(
                "starting",
                extra={
                    "next_height": self.follower.next_height,
                    "resumed": saved is not None,
                    "network": self.settings.bitcoin_network.value,
                    "confirmations": self.settings.btc_confirmations,
                },
            )
            while not stop.is_set():
                heartbeat.beat(
                    next_height=self.follower.next_height,
                    head=self.follower.head,
                    watched=len(self.follower.outputs.addresses),
                )
                if not await self._turn():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), self.settings.bitcoin_poll_interval_s)
        finally:
            await self.watchlist.stop()
            await self.publisher.stop()
            await self.node.close()

    async def _turn(self) -> bool:
        """One turn; False when there was nothing to do (the loop then waits a poll)."""
        await self.watchlist.poll()
        try:
            self._drop_unlisted()
            # The chain moved under a rescan: the step below finds out how (a reorg, or a
            # node that makes no sense), and the new addresses are rescanned next turn.
            with contextlib.suppress(ChainMoved):
                await self._watch_new()
            moved = await self.follower.step(self._scripts())
        except NodeInconsistent as problem:
            self._node_problem(problem)
            return False
        except RpcError as error:  # an answer no retry changes: the node is not usable now
            self._node_problem(NodeInconsistent("rpc_error", str(error)))
            return False
        self._node_fine()
        if moved == "block":
            self.uncommitted_blocks += 1
        await self._commit(caught_up=moved != "block", reorged=moved == "reorg")
        return moved != "idle"

    def _scripts(self) -> dict[bytes, str]:
        watched = self.follower.outputs.addresses
        return {script: a for a, script in self.watchlist.addresses.items() if a in watched}

    def _drop_unlisted(self) -> None:
        listed = self.watchlist.addresses
        for address in sorted(self.follower.outputs.addresses - set(listed)):
            self.follower.drop(address)
            self.published.pop(address, None)
            self.dropped.append(address)

    async def _watch_new(self) -> None:
        listed = self.watchlist.addresses
        new = {listed[a]: a for a in sorted(set(listed) - self.follower.outputs.addresses)}
        if not new:
            return
        log.info("watching new addresses", extra={"count": len(new)})
        await self.follower.rescan(new)

    async def _commit(self, *, caught_up: bool, reorged: bool) -> None:
        balances = self._changed_balances()
        letters, offsets = self.watchlist.take_letters()
        metrics.WATCHED.set(len(self.follower.outputs.addresses))
        # A reorg is committed even when no balance changed: the checkpoint must stop naming
        # the blocks taken back, or it says the listener is where it no longer is.
        due = (
            reorged
            or self.uncommitted_blocks >= self.settings.bitcoin_commit_every_blocks
            or (caught_up and self.uncommitted_blocks > 0)
        )
        # Dropped and listed again before this commit: its balance below is the truth.
        dropped = [a for a in self.dropped if a not in self.follower.outputs.addresses]
        if not (balances or dropped or letters or due):
            return
        saved = checkpoint.BitcoinCheckpoint(
            network=self.settings.bitcoin_network,
            next_height=self.follower.next_height,
            recent=list(self.follower.recent),
            outputs=self.follower.outputs.snapshot(),
            published={**self.published, **{b.address: b.confirmed_sats for b in balances}},
            state_offsets=offsets,
        )
        started = time.monotonic()
        await self.publisher.publish(Outgoing(saved, balances, dropped, letters))
        self.published = dict(saved.published)
        self.uncommitted_blocks = 0
        self.dropped = []
        if balances or dropped:
            log.info(
                "balances published",
                extra={
                    "height": self.follower.tip.height if self.follower.tip else None,
                    "balances": len(balances),
                    "dropped": len(dropped),
                    "commit_ms": round((time.monotonic() - started) * 1000, 1),
                },
            )

    def _changed_balances(self) -> list[BitcoinAddressBalance]:
        tip = self.follower.tip
        if tip is None:
            return []  # nothing confirmed yet: no balance is a fact
        outputs = self.follower.outputs
        return [
            BitcoinAddressBalance(
                address=address,
                network=self.settings.bitcoin_network,
                confirmed_sats=outputs.balance(address),
                height=tip.height,
                block_hash=tip.hash,
                as_of=tip.time,
            )
            for address in sorted(outputs.addresses)
            if self.published.get(address) != outputs.balance(address)
        ]

    def _node_problem(self, problem: NodeInconsistent) -> None:
        metrics.NODE_PROBLEMS.labels(problem.kind).inc()
        if self.problem != str(problem):
            log.error(
                "bitcoin node inconsistent", extra={"kind": problem.kind, "detail": str(problem)}
            )
        self._node_fine()
        self.problem = str(problem)
        heartbeat.waiting_for(f"{CONSISTENT_NODE} ({problem})")

    def _node_fine(self) -> None:
        if self.problem is not None:
            heartbeat.reached(f"{CONSISTENT_NODE} ({self.problem})")
            self.problem = None
