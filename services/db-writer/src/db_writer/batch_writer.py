"""Writing one polled batch: runs of rows in bulk, each run one transaction with its offsets;
removals in order between the runs; a run Postgres refuses written record by record, so one bad
record is dead-lettered and the rest are written."""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping, Sequence

from aiokafka import AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError
from reservesync import dead_letters
from reservesync.crypto import FieldCipher
from reservesync.dead_letters import ConflictingDuplicate
from reservesync.messages import DeadLetter

from db_writer import metrics
from db_writer.duplicates import Claim
from db_writer.mapping import Rows
from db_writer.offset_fence import Offsets
from db_writer.retrying import retrying
from db_writer.settling import SERVICE, Settled, settle
from db_writer.storage import SinkStore, Written

log = logging.getLogger(__name__)
OUTBOX_BATCH = 1000
Batch = Mapping[TopicPartition, Sequence[ConsumerRecord[bytes, bytes]]]


class BatchWriter:
    """Writes one polled batch: runs of rows in bulk, reorg notices in order between them."""

    def __init__(self, store: SinkStore, producer: AIOKafkaProducer, cipher: FieldCipher) -> None:
        self.store = store
        self.producer = producer
        self.cipher = cipher
        # Whether the outbox may hold letters: at start (a predecessor may have crashed between
        # queueing and sending), and after a batch queued some. Otherwise no round trip.
        self.outbox_pending = True

    def settle_all(self, batch: Batch) -> list[Settled]:
        """The CPU half of a batch (decode, validate, map, encrypt); safe in a worker thread."""
        return [settle(r, self.cipher) for records in batch.values() for r in records]

    async def write(self, batch: Batch) -> None:
        await self.write_settled(self.settle_all(batch))

    async def write_settled(self, settled: list[Settled]) -> None:
        run: list[Settled] = []
        for item in settled:
            if item.is_barrier:
                await self._write_run(run)
                run = []
                await self._write_barrier(item)
            else:
                run.append(item)
        await self._write_run(run)
        metrics.RECORDS.inc(len(settled))
        if self.outbox_pending or any(item.letter is not None for item in settled):
            sent = await retrying(
                lambda: self.store.publish_letters(self._send, OUTBOX_BATCH), also=(KafkaError,)
            )
            metrics.DEAD_LETTERS.inc(sent)
            self.outbox_pending = sent == OUTBOX_BATCH

    async def _send(self, letters: Sequence[DeadLetter]) -> None:
        await dead_letters.publish(self.producer, letters)

    async def _write_barrier(self, item: Settled) -> None:
        try:
            await retrying(functools.partial(self._apply_barrier, item))
        except Exception as exc:
            await self._dead_letter(item, exc)

    async def _apply_barrier(self, item: Settled) -> None:
        record = item.record
        offsets = {(record.topic, record.partition): record.offset + 1}
        if item.reorg is not None:
            removed = await self.store.remove_orphaned(
                record.topic, record.partition, item.reorg.orphaned_block_hashes, offsets
            )
            log.info("reorg applied", extra={"partition": record.partition, "removed": removed})
        elif item.gone_user is not None:
            await self.store.forget_oracle_user(item.gone_user, offsets)
        elif item.gone_bitcoin_address is not None:
            await self.store.forget_bitcoin_address(item.gone_bitcoin_address, offsets)

    async def _write_run(self, run: list[Settled]) -> None:
        if not run:
            return
        try:
            written = await retrying(lambda: self._write_together(run))
        except Exception as exc:
            # One record Postgres (or asyncpg) refuses must not hold back the rest: find it one
            # by one. Any error counts here; Postgres being away was retried above.
            log.info("batch refused, writing its records one by one", extra={"error": str(exc)})
            written = Written(0, 0)
            for item in run:
                alone = await self._write_alone(item)
                written = Written(written.rows + alone.rows, written.conflicts + alone.conflicts)
        metrics.ROWS.inc(written.rows)
        if written.conflicts:
            metrics.CONFLICTING_DUPLICATES.inc(written.conflicts)
            self.outbox_pending = True

    async def _write_together(self, run: Sequence[Settled]) -> Written:
        return await self.store.write_batch(
            _rows(run),
            _offsets(run),
            _letters(run),
            _claims(run),
            _conflict_letter,
            firsts=_firsts(run),
        )

    async def _write_alone(self, item: Settled) -> Written:
        try:
            return await retrying(lambda: self._write_together([item]))
        except Exception as exc:
            log.warning(
                "record refused by the database",
                extra={
                    "topic": item.record.topic,
                    "partition": item.record.partition,
                    "offset": item.record.offset,
                    "error": f"{type(exc).__name__}: {exc}",
                },
            )
            await self._dead_letter(item, exc)
            return Written(0, 0)

    async def _dead_letter(self, item: Settled, exc: Exception) -> None:
        letter = dead_letters.dead_letter(item.record, exc, SERVICE)
        self.outbox_pending = True
        await retrying(lambda: self.store.write(Rows(), _offsets([item]), [letter]))


def _conflict_letter(claim: Claim, why: str) -> DeadLetter:
    return dead_letters.dead_letter(claim.record, ConflictingDuplicate(why), SERVICE)


def _claims(run: Sequence[Settled]) -> list[Claim]:
    return [item.claim for item in run if item.claim is not None]


def _letters(run: Sequence[Settled]) -> list[DeadLetter]:
    return [item.letter for item in run if item.letter is not None]


def _rows(run: Sequence[Settled]) -> Rows:
    rows = Rows()
    for item in run:
        if item.rows is not None:
            rows.extend(item.rows)
    return rows


def _firsts(run: Sequence[Settled]) -> Offsets:
    """Each partition's first offset in the run (its records come in offset order)."""
    return {(i.record.topic, i.record.partition): i.record.offset for i in reversed(run)}


def _offsets(run: Sequence[Settled]) -> Offsets:
    return {(i.record.topic, i.record.partition): i.record.offset + 1 for i in run}
