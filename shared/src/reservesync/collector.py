"""CPython's cyclic garbage collector, tuned for a process that holds whole batches.

The db-writer's batch is tens of thousands of records, each becoming a message, a claim and a
few row dicts, all alive until the batch commits; the chain-listener's block range is thousands
of logs, each becoming an event and a Kafka record, all alive until the range's transaction
commits. With the default threshold (a young collection every 700 allocations, a full one
whenever the survivors grow by a quarter) the collector walked those objects again and again:
a third of the writer's settle thread (bench/profile_writer.py). They are freed by reference
counting; cycles are rare, so collecting less often costs little memory.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 50_000
"""Allocations between young collections: a batch's objects are collected a few times, not a
hundred."""


def tune_for_batches() -> None:
    # What is alive at start (modules, validators, settings) lives as long as the process:
    # kept out of every later collection.
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
