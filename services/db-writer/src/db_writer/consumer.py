"""The consume loop: batch from Kafka, one Postgres transaction per batch, then commit to Kafka.

Exactly once comes from the database, not from Kafka: rows and the next offsets commit
together, and on every partition assignment the consumer seeks to the offsets stored there.
The Kafka commit afterwards only keeps lag tools truthful.
"""

from __future__ import annotations

import asyncio
import logging

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from reservesync import collector, kafka
from reservesync.crypto import FieldCipher
from reservesync.heartbeat import heartbeat

from db_writer import metrics, retention
from db_writer.batch_writer import Batch, BatchWriter
from db_writer.config import Settings
from db_writer.kafka_offsets import KafkaOffsets
from db_writer.settling import Settled
from db_writer.storage import SinkStore

log = logging.getLogger(__name__)


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
