"""Which addresses to watch: the verified Bitcoin addresses of the oracle's user states
(`rbtc.oracle.state.v1`, compacted), read whole from the beginning at every start and then
followed.

A state record that is not a valid `oracle.user_state/v1`, or that lists a verified address the
listener cannot watch (not one of the five standard kinds, a bad checksum, another network),
is refused with a dead letter naming why; its valid addresses are still watched. Letters wait
in `pending` until the listener commits them with its checkpoint, and a record judged before
(below the checkpoint's offsets) is not refused twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from reservesync import bitcoin_address, dead_letters, kafka
from reservesync.messages import DeadLetter, InvalidMessage, Network, OracleUserState, decode
from reservesync.settings import KafkaSettings
from reservesync.topics import ORACLE_STATE

from bitcoin_listener import metrics

log = logging.getLogger(__name__)
SERVICE = "bitcoin-listener"


@dataclass(frozen=True)
class Watched:
    address: str
    """Normalised (bech32 lowercase), as published."""
    script: bytes


class Watchlist:
    def __init__(self, settings: KafkaSettings, network: Network, judged: dict[int, int]) -> None:
        self.settings = settings
        self.network = network
        self.judged = dict(judged)
        """Partition -> offset below which records were judged before (a checkpoint's)."""
        self.by_user: dict[str, dict[str, Watched]] = {}
        self.pending: list[DeadLetter] = []
        self.positions: dict[int, int] = {}
        self.consumer: AIOKafkaConsumer | None = None

    async def start(self) -> None:
        self.consumer = kafka.consumer(self.settings, group_id=None)
        await self.consumer.start()
        partitions = [TopicPartition(ORACLE_STATE.name, p) for p in range(ORACLE_STATE.partitions)]
        self.consumer.assign(partitions)
        await self.consumer.seek_to_beginning(*partitions)
        ends: dict[TopicPartition, int] = await self.consumer.end_offsets(partitions)
        # Caught up with the state as it was at the start before the first block is processed:
        # a restart must not publish a balance for an address the state already dropped.
        while [tp for tp, end in ends.items() if await self.consumer.position(tp) < end]:
            await self.poll(timeout_ms=500)

    async def stop(self) -> None:
        if self.consumer is not None:
            await self.consumer.stop()

    async def poll(self, timeout_ms: int = 0) -> None:
        assert self.consumer is not None
        batch = await self.consumer.getmany(timeout_ms=timeout_ms, max_records=5000)
        for records in batch.values():
            for record in records:
                self._judge(record)
                self.positions[record.partition] = record.offset + 1

    @property
    def addresses(self) -> dict[str, bytes]:
        """Every watched address -> its script."""
        return {w.address: w.script for user in self.by_user.values() for w in user.values()}

    def take_letters(self) -> tuple[list[DeadLetter], dict[int, int]]:
        """The letters to commit and the offsets they account for (committed with them)."""
        letters, self.pending = self.pending, []
        offsets = {**self.judged, **self.positions}
        self.judged = offsets
        return letters, offsets

    def _judge(self, record: ConsumerRecord[bytes, bytes]) -> None:
        user = (record.key or b"").decode(errors="replace").lower()
        if record.value is None:
            self.by_user.pop(user, None)  # the oracle no longer tracks this user
            return
        try:
            state = decode(record.value, (OracleUserState,))
            assert isinstance(state, OracleUserState)
        except InvalidMessage as error:
            self._refuse(record, error, "invalid_state")
            return
        watched: dict[str, Watched] = {}
        refused: list[str] = []
        for entry in state.bitcoin_addresses:
            if entry.verified_at is None:
                continue
            try:
                if entry.network is not self.network:
                    raise bitcoin_address.BadBitcoinAddress(
                        f"{entry.address!r} is listed for {entry.network.value}; this listener "
                        f"watches {self.network.value}"
                    )
                script = bitcoin_address.script_for(entry.address, self.network)
            except bitcoin_address.BadBitcoinAddress as error:
                refused.append(str(error))
                continue
            address = bitcoin_address.decode(entry.address).address
            watched[address] = Watched(address, script)
        self.by_user[state.user_address] = watched
        if refused:
            self._refuse(record, InvalidMessage("; ".join(refused)), "bad_address")

    def _refuse(self, record: ConsumerRecord[bytes, bytes], error: Exception, reason: str) -> None:
        if record.offset < self.judged.get(record.partition, 0):
            return  # refused before this restart, and the letter committed then
        metrics.DEAD_LETTERS.labels(reason).inc()
        log.warning(
            "state record refused",
            extra={"partition": record.partition, "offset": record.offset, "error": str(error)},
        )
        self.pending.append(dead_letters.dead_letter(record, error, SERVICE))
