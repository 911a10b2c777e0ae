"""`python -m db_writer.replay --database-url URL`: rebuild a database from the topics.

The target must be an empty, migrated database (the writer's role). Every partition of the
source topics is read from the beginning to the end it had when the replay started, through the
same batch writer as the live service, so the result is what the live database holds for the
same messages (compare with `python -m db_writer.checksum`). Progress shows as it goes (a bar
on a terminal, a line every few seconds otherwise).
"""

from __future__ import annotations

import asyncio
import sys

from aiokafka import TopicPartition
from reservesync import cli, kafka
from reservesync import logging as structured_logging
from reservesync.crypto import FieldCipher
from reservesync.progress import Progress

from db_writer import retention
from db_writer.batch_writer import BatchWriter
from db_writer.config import SOURCE_TOPICS, Settings
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
        starts = {tp: stored.get((tp.topic, tp.partition), 0) for tp in partitions}
        for tp in partitions:
            consumer.seek(tp, starts[tp])
        # Progress by position: offsets also number transaction markers, which are no records,
        # so a count of records never reaches the end offsets' total.
        total = sum(max(0, ends[tp] - starts[tp]) for tp in partitions)
        writer = BatchWriter(store, producer, FieldCipher.from_settings(settings))
        replayed = 0
        pending = {tp for tp in partitions if ends[tp] > starts[tp]}
        with Progress("replay", total, unit="offsets", every_s=progress_every_s) as progress:
            while pending:
                batch = await consumer.getmany(
                    *pending, timeout_ms=500, max_records=settings.writer_batch_max
                )
                if batch:
                    await writer.write(batch)
                    replayed += sum(len(records) for records in batch.values())
                positions = {tp: await consumer.position(tp) for tp in partitions}
                for tp in list(pending):
                    if positions[tp] >= ends[tp]:
                        pending.discard(tp)
                done = sum(min(positions[tp], ends[tp]) - starts[tp] for tp in partitions)
                progress.update(done, note=f"{replayed} records")
        await retention.apply(store.pool)
        return replayed
    finally:
        await consumer.stop()
        await producer.stop()
        await store.close()


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
