"""`python -m db_writer.replay --database-url URL`: rebuild a database from the topics.

The target must be an empty, migrated database (the writer's role). Every partition of the
source topics is read from the beginning to the end it had when the replay started, through the
same batch writer as the live service, so the result is what the live database holds for the
same messages (compare with `python -m db_writer.checksum`). Progress is printed as it goes.
"""

from __future__ import annotations

import asyncio
import sys
import time

from aiokafka import TopicPartition
from reservesync import cli, kafka
from reservesync import logging as structured_logging
from reservesync.crypto import FieldCipher

from db_writer import retention
from db_writer.config import SOURCE_TOPICS, Settings
from db_writer.consumer import BatchWriter
from db_writer.storage import SinkStore

REPLAY_GROUP = "rbtc-db-writer-replay"


async def replay(settings: Settings, database_url: str, progress_every_s: float = 2.0) -> int:
    """Returns the number of records replayed."""
    store = await SinkStore.connect(database_url, REPLAY_GROUP, settings.database_pool_size)
    consumer = kafka.consumer(settings, group_id=None)
    producer = kafka.producer(settings)
    await consumer.start()
    await producer.start()
    try:
        partitions = [
            TopicPartition(topic.name, p)
            for topic in SOURCE_TOPICS.values()
            for p in range(topic.partitions)
        ]
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        stored = await store.stored_offsets((tp.topic, tp.partition) for tp in partitions)
        for tp in partitions:
            consumer.seek(tp, stored.get((tp.topic, tp.partition), 0))
        total = sum(ends.values())
        writer = BatchWriter(store, producer, FieldCipher.from_settings(settings))
        started = last_report = time.monotonic()
        replayed = 0
        pending = {tp for tp in partitions if ends[tp] > 0}
        while pending:
            batch = await consumer.getmany(
                *pending, timeout_ms=500, max_records=settings.writer_batch_max
            )
            if batch:
                await writer.write(batch)
                replayed += sum(len(records) for records in batch.values())
            for tp in list(pending):
                if await consumer.position(tp) >= ends[tp]:
                    pending.discard(tp)
            if time.monotonic() - last_report >= progress_every_s or not pending:
                last_report = time.monotonic()
                _report(replayed, total, time.monotonic() - started)
        await retention.apply(store.pool)
        return replayed
    finally:
        await consumer.stop()
        await producer.stop()
        await store.close()


def _report(done: int, total: int, elapsed: float) -> None:
    rate = done / elapsed if elapsed > 0 else 0.0
    left = (total - done) / rate if rate > 0 else float("inf")
    percent = 100.0 * done / total if total else 100.0
    print(
        f"replay: {done}/{total} records ({percent:5.1f}%), {rate:,.0f} records/s, "
        f"ETA {left:,.0f}s",
        flush=True,
    )


def main(argv: list[str] | None = None) -> int:
    parser = cli.parser("python -m db_writer.replay", __doc__, Settings)
    parser.add_argument("--database-url", required=True, help="the empty target (writer role)")
    args = parser.parse_args(argv)
    settings = cli.load(parser, Settings)
    structured_logging.configure("db-writer-replay", settings.log_level)
    count = asyncio.run(replay(settings, args.database_url))
    print(f"replayed {count} records")
    return 0


if __name__ == "__main__":
    sys.exit(main())
