"""Benchmarks: each prints its figures and the command that produced them (`make bench`)."""

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

BENCH_STACK_DIR = Path(__file__).resolve().parent.parent / ".stack-bench"
"""The benchmarks' own local stack: a developer's `.stack/` is never touched."""


class BenchStackBusy(RuntimeError):
    """Another benchmark of this checkout holds the stack directory it needs."""


@contextlib.contextmanager
def stack_claimed(directory: Path = BENCH_STACK_DIR) -> Iterator[None]:
    """A benchmark's stack directory for this process alone while it runs: each benchmark
    starts a new world there and stops it at its end, which would pull Kafka and Postgres from
    under a second one running from the same checkout (a long end-to-end run lost its stack
    so). The lock lies beside the directory, which a new world may remove."""
    with directory.with_name(f"{directory.name}.lock").open("a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            holder = lock.read().strip() or "unknown"
            raise BenchStackBusy(
                f"another benchmark (pid {holder}) is using {directory.name}/ of this "
                "checkout; wait for it to end, or run from another clone"
            ) from None
        lock.seek(0)
        lock.truncate()
        lock.write(str(os.getpid()))
        lock.flush()
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
