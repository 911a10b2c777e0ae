"""Publishes balances, dropped addresses (tombstones), refused state records and the checkpoint
that accounts for them in one Kafka transaction: read_committed consumers see all or none."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aiokafka import AIOKafkaProducer
from reservesync import kafka
from reservesync.messages import BitcoinAddressBalance, DeadLetter
from reservesync.topics import BITCOIN_BALANCES, BITCOIN_CHECKPOINTS, DLQ

from bitcoin_listener import metrics
from bitcoin_listener.checkpoint import BitcoinCheckpoint
from bitcoin_listener.config import Settings


@dataclass(frozen=True)
class Outgoing:
    checkpoint: BitcoinCheckpoint
    balances: Sequence[BitcoinAddressBalance] = ()
    dropped: Sequence[str] = ()
    dead_letters: Sequence[DeadLetter] = ()


class BalancePublisher:
    def __init__(self, settings: Settings) -> None:
        # The transactional id fences a zombie predecessor, and starting the producer aborts
        # whatever transaction a killed one left open.
        self.producer: AIOKafkaProducer = kafka.producer(
            settings, transactional_id=settings.producer_transactional_id
        )
        self.checkpoint_key = settings.checkpoint_key

    async def start(self) -> None:
        await self.producer.start()

    async def stop(self) -> None:
        await self.producer.stop()

    async def publish(self, out: Outgoing) -> None:
        async with self.producer.transaction():
            for address in out.dropped:
                await self.producer.send(BITCOIN_BALANCES.name, None, key=address.encode())
            for balance in out.balances:
                await self.producer.send(
                    BITCOIN_BALANCES.name, balance.to_json(), key=balance.address.encode()
                )
            for letter in out.dead_letters:
                key = letter.key.encode() if letter.key else None
                await self.producer.send(DLQ.name, letter.to_json(), key=key)
            await self.producer.send(
                BITCOIN_CHECKPOINTS.name,
                out.checkpoint.model_dump_json().encode(),
                key=self.checkpoint_key,
            )
        metrics.BALANCES.inc(len(out.balances))
        metrics.TOMBSTONES.inc(len(out.dropped))
