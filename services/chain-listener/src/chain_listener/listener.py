"""The listener loop: fetch finalized block ranges, decode, publish with the checkpoint."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
from datetime import UTC, datetime
from typing import Any

from reservesync.messages import ChainEvent, DeadLetter, Message
from web3 import AsyncWeb3
from web3.providers import AsyncHTTPProvider

from chain_listener import checkpoint, metrics
from chain_listener.config import Settings
from chain_listener.decoder import EventDecoder, UnknownLog
from chain_listener.publisher import RangePublisher
from chain_listener.registry import publish_registry

log = logging.getLogger(__name__)
SERVICE = "chain-listener"


class ChainListener:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.w3 = AsyncWeb3(
            AsyncHTTPProvider(settings.chain_rpc_url, request_kwargs={"timeout": 30})
        )
        self.decoder = EventDecoder(settings.chain_id, settings.chain_contracts)
        self.publisher = RangePublisher(
            settings, f"{settings.chain_transactional_id}-{settings.chain_id}"
        )
        self.next_block = settings.chain_start_block

    async def run(self, stop: asyncio.Event) -> None:
        # Starting the transactional producer first aborts whatever transaction a killed
        # predecessor left open, so the checkpoint read below is the last committed one.
        await self.publisher.start()
        try:
            saved = await checkpoint.load(self.settings, self.settings.chain_id)
            if saved is not None:
                self.next_block = saved.next_block
            log.info("resuming", extra={"next_block": self.next_block})
            await publish_registry(
                self.w3, self.settings.chain_id, self.settings.chain_contracts, self.publisher
            )
            while not stop.is_set():
                published = await self.step()
                if not published:
                    await _sleep_or_stop(stop, self.settings.chain_poll_interval_s)
        finally:
            await self.publisher.stop()

    async def step(self) -> bool:
        """Publish the next finalized range, if any; returns whether it did."""
        head = await self.w3.eth.block_number
        metrics.HEAD.set(head)
        safe = head - self.settings.chain_confirmations
        if self.next_block > safe:
            metrics.BLOCKS_BEHIND.set(max(0, head - self.next_block + 1))
            return False
        last = min(safe, self.next_block + self.settings.chain_max_block_range - 1)
        logs = await self.w3.eth.get_logs(
            {
                "fromBlock": self.next_block,
                "toBlock": last,
                "address": [AsyncWeb3.to_checksum_address(a) for a in self.decoder.addresses],
            }
        )
        events, dead_letters = await self._decode(list(logs))
        await self.publisher.publish(
            events,
            checkpoint.Checkpoint(chain_id=self.settings.chain_id, next_block=last + 1),
            dead_letters,
        )
        for event in events:
            metrics.EVENTS.labels(event.contract.value, event.event).inc()
        self.next_block = last + 1
        metrics.PUBLISHED_BLOCK.set(last)
        metrics.BLOCKS_BEHIND.set(head - last)
        return True

    async def _decode(
        self, logs: list[Any]
    ) -> tuple[list[ChainEvent], list[tuple[bytes | None, Message]]]:
        numbers = sorted({int(entry["blockNumber"]) for entry in logs})
        blocks = await asyncio.gather(*(self.w3.eth.get_block(n) for n in numbers))
        timestamps = {int(b["number"]): int(b["timestamp"]) for b in blocks}
        events: list[ChainEvent] = []
        dead: list[tuple[bytes | None, Message]] = []
        for entry in sorted(logs, key=lambda e: (int(e["blockNumber"]), int(e["logIndex"]))):
            try:
                events.append(self.decoder.decode(entry, timestamps[int(entry["blockNumber"])]))
            except (UnknownLog, ValueError) as exc:
                metrics.DEAD_LETTERS.labels(type(exc).__name__).inc()
                dead.append(self._dead_letter(entry, exc))
        return events, dead

    def _dead_letter(self, entry: Any, error: Exception) -> tuple[bytes | None, Message]:
        raw = AsyncWeb3.to_json(entry)
        letter = DeadLetter(
            source_topic=f"chain:{self.settings.chain_id}",
            partition=0,
            offset=int(entry["blockNumber"]),
            key=None,
            value_base64=base64.b64encode(raw.encode()).decode(),
            error=f"{type(error).__name__}: {error}"[:4096],
            service=SERVICE,
            failed_at=datetime.now(UTC),
        )
        return str(entry["address"]).lower().encode(), letter


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
