"""How fast one core turns Kafka record values into validated messages and rows.

Every chain event is decoded and validated by the db-writer (and encoded by the
chain-listener), so this bounds what one process can sink before Postgres is involved.
"""

from __future__ import annotations

import os
import time
import tracemalloc
from datetime import UTC, datetime

from db_writer.mapping import Source
from db_writer.mapping.chain import chain_event_rows
from reservesync.contracts import SystemContract
from reservesync.messages import ChainEvent, decode, make_event_id

COUNT = int(os.environ.get("BENCH_CODEC_EVENTS", "50000"))


def _events(count: int) -> list[bytes]:
    values = []
    for i in range(count):
        tx_hash = "0x" + f"{i:064x}"
        user = "0x" + f"{i % 5000:040x}"
        values.append(
            ChainEvent(
                event_id=make_event_id(6342, tx_hash, 1),
                chain_id=6342,
                block_number=1_000_000 + i // 10,
                block_hash="0x" + f"{i // 10:064x}",
                block_timestamp=datetime(2025, 9, 12, tzinfo=UTC),
                tx_hash=tx_hash,
                tx_index=i % 10,
                log_index=1,
                contract=SystemContract.ORACLE_AGGREGATOR,
                address="0x" + "ec" * 20,
                event="Synced",
                args={
                    "user": user,
                    "newBalanceSats": str(100_000 + i),
                    "deltaSats": str(1_000 + i % 500),
                    "feeWei": "2000000000000000",
                    "height": "840000",
                    "timestamp": "1757671200",
                },
            ).to_json()
        )
    return values


def run() -> dict[str, float]:
    values = _events(COUNT)
    tracemalloc.start()
    started = time.perf_counter()
    for offset, value in enumerate(values):
        message = decode(value, (ChainEvent,))
        assert isinstance(message, ChainEvent)
        chain_event_rows(message, Source("rbtc.chain.events.v1", 0, offset))
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "events": COUNT,
        "seconds": elapsed,
        "events_per_s": COUNT / elapsed,
        "peak_traced_mib": peak / 2**20,
    }
