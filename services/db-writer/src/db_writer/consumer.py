"""The consume loop: batch from Kafka, one Postgres transaction per batch, then commit to Kafka.

Exactly once comes from the database, not from Kafka: rows and the next offsets commit
together, and on every partition assignment the consumer seeks to the offsets stored there.
The Kafka commit afterwards only keeps lag tools truthful.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.errors import KafkaError
from reservesync import addresses, bitcoin_address, collector, dead_letters, kafka
from reservesync.crypto import FieldCipher
from reservesync.dead_letters import ConflictingDuplicate
from reservesync.heartbeat import heartbeat
from reservesync.messages import ChainReorg, DeadLetter, InvalidMessage, decode
from reservesync.topics import BITCOIN_BALANCES, ORACLE_STATE

from db_writer import metrics, retention
from db_writer.config import SOURCE_TOPICS, Settings
from db_writer.duplicates import Claim, claim_of
from db_writer.kafka_offsets import KafkaOffsets
from db_writer.mapping import Rows, Source, rows_for
from db_writer.mapping.bitcoin import address_lookup
from db_writer.retrying import retrying
from db_writer.storage import Offsets, SinkStore, Written

log = logging.getLogger(__name__)
OUTBOX_BATCH = 1000
SERVICE = "db-writer"
Batch = Mapping[TopicPartition, Sequence[ConsumerRecord[bytes, bytes]]]


class SeekToStoredOffsets(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(
        self, consumer: AIOKafkaConsumer, store: SinkStore, kafka_offsets: KafkaOffsets
    ) -> None:
        self.consumer = consumer
        self.store = store
        self.kafka_offsets = kafka_offsets

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        return None

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        # The consumer fetches the new partitions from Kafka's committed (or earliest) offsets
        # while this runs; records handed out before the seek below were fetched again after
        # it (a fifth of a 100k-event start, bench/profile_writer.py). Paused, nothing is
        # handed out until every partition sits at its stored offset.
        self.consumer.pause(*assigned)
        # Another writer may have removed evidence of these partitions meanwhile (a reorg).
        self.store.known_users.clear()
        try:
            await self._seek_to_stored(assigned)
        finally:
            self.consumer.resume(*assigned)

    async def _seek_to_stored(self, assigned: list[TopicPartition]) -> None:
        stored = await self.store.stored_offsets((tp.topic, tp.partition) for tp in assigned)
        found: dict[TopicPartition, int] = {}
        for tp in assigned:
            offset = stored.get((tp.topic, tp.partition))
            if offset is None:
                # Nothing of this partition is in the database yet: it all has to be written.
                await self.consumer.seek_to_beginning(tp)
            else:
                self.consumer.seek(tp, offset)
                found[tp] = offset
        # Kafka's copy may trail: the last commit before this rebalance may have been refused,
        # and a partition that receives nothing more would never be committed again.
        self.kafka_offsets.stored(found)
        log.info("partitions assigned", extra={"count": len(assigned)})


@dataclass
class Settled:
    """One record's outcome: the rows it maps to, or the reason it goes to the DLQ."""

    record: ConsumerRecord[bytes, bytes]
    rows: Rows | None = None
    reorg: ChainReorg | None = None
    gone_user: str | None = None
    gone_bitcoin_address: bytes | None = None
    """The lookup hash of an address the bitcoin-listener no longer watches."""
    letter: DeadLetter | None = None
    claim: Claim | None = None

    @property
    def is_barrier(self) -> bool:
        """Removals must see every earlier row of their partition written first."""
        return (
            self.reorg is not None
            or self.gone_user is not None
            or self.gone_bitcoin_address is not None
        )


class DbWriter:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def run(self, stop: asyncio.Event) -> None:
        store = await SinkStore.connect(
            self.settings.asyncpg_dsn,
            self.settings.writer_group_id,
            self.settings.database_pool_size,
        )
        consumer = kafka.consumer(
            self.settings, group_id=self.settings.writer_group_id, max_poll_interval_ms=600_000
        )
        kafka_offsets = KafkaOffsets(consumer)
        consumer.subscribe(
            self.settings.writer_topics,
            listener=SeekToStoredOffsets(consumer, store, kafka_offsets),
        )
        producer = kafka.producer(self.settings)
        cipher = FieldCipher.from_settings(self.settings)
        await producer.start()
        await consumer.start()
        retention_job = asyncio.create_task(
            retention.run_periodically(store.pool, self.settings.writer_retention_interval_s, stop)
        )
        writer = BatchWriter(store, producer, cipher)
        collector.tune_for_batches()
        # One batch is written while the next is fetched and decoded: Postgres and Python work
        # at the same time. Writes stay strictly in order (each waits for the one before).
        writing: asyncio.Task[None] | None = None
        records = 0
        try:
            while not stop.is_set():
                if writing is not None and writing.done():
                    # A write that failed fails the writer now, not when a next batch comes:
                    # idle after it, the loop would beat on and look ready while stuck.
                    _raise_failure(writing)
                    writing = None
                batch = await consumer.getmany(
                    timeout_ms=self.settings.writer_poll_timeout_ms,
                    max_records=self.settings.writer_batch_max,
                )
                records += sum(len(part) for part in batch.values())
                if writing is None:
                    # A write in flight beats for itself when it is done: one that hangs
                    # silences the loop, and liveness says so.
                    heartbeat.beat(partitions=len(consumer.assignment()), records_polled=records)
                if not batch:
                    if writing is None:
                        await kafka_offsets.commit_deferred()
                    continue
                with metrics.BATCH_STAGE_SECONDS.labels("settle").time():
                    settled = await asyncio.to_thread(writer.settle_all, batch)
                if writing is not None:
                    with metrics.BATCH_STAGE_SECONDS.labels("stalled").time():
                        await writing
                writing = asyncio.create_task(
                    _write_then_commit(writer, kafka_offsets, batch, settled)
                )
            if writing is not None:
                await writing
        finally:
            if writing is not None and not writing.done():
                writing.cancel()
            retention_job.cancel()
            await consumer.stop()
            await producer.stop()
            await store.close()


def _raise_failure(writing: asyncio.Task[None]) -> None:
    try:
        writing.result()
    except Exception:
        # Bad records are dead-lettered and an unavailable Postgres is waited out inside the
        # task, so this is neither: exit, and let the supervisor start a fresh writer.
        log.exception("writing a batch failed; stopping")
        raise


def settle(record: ConsumerRecord[bytes, bytes], cipher: FieldCipher) -> Settled:
    """Never raises: a record that cannot be decoded, validated or mapped is dead-lettered."""
    try:
        if record.topic == ORACLE_STATE.name and record.value is None:
            return Settled(record, gone_user=_user_key(record.key))
        if record.topic == BITCOIN_BALANCES.name and record.value is None:
            return Settled(record, gone_bitcoin_address=_bitcoin_key(record.key, cipher))
        message = decode(record.value, SOURCE_TOPICS[record.topic].carries)
        if isinstance(message, ChainReorg):
            return Settled(record, reorg=message)
        source = Source(record.topic, record.partition, record.offset)
        rows = rows_for(message, source, cipher)
        return Settled(record, rows=rows, claim=claim_of(message, record))
    except Exception as exc:  # whatever one record does, the others are written
        if not isinstance(exc, InvalidMessage):
            log.warning("record refused", extra={"error": f"{type(exc).__name__}: {exc}"})
        return Settled(record, letter=dead_letters.dead_letter(record, exc, SERVICE))


def _bitcoin_key(key: bytes | None, cipher: FieldCipher) -> bytes:
    text = (key or b"").decode(errors="replace")
    try:
        bitcoin_address.decode(text)
    except bitcoin_address.BadBitcoinAddress as exc:
        raise InvalidMessage(f"tombstone key is not a Bitcoin address: {exc}") from exc
    return address_lookup(text, cipher)


def _user_key(key: bytes | None) -> str:
    text = (key or b"").decode(errors="replace")
    try:
        return addresses.canonical(text)
    except addresses.InvalidAddress as exc:
        raise InvalidMessage(f"tombstone key {text!r} is not a user address: {exc}") from exc


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


async def _write_then_commit(
    writer: BatchWriter, kafka_offsets: KafkaOffsets, batch: Batch, settled: list[Settled]
) -> None:
    with metrics.BATCH_STAGE_SECONDS.labels("write").time():
        await writer.write_settled(settled)
        kafka_offsets.stored(
            {tp: records[-1].offset + 1 for tp, records in batch.items() if records}
        )
        await kafka_offsets.commit()
    heartbeat.beat()
