"""Where one db-writer spends its CPU: cProfile of the writer in this process over the mixed
stream of `bench/mixed_stream.py`, split by thread.

The writer decodes, validates and maps a batch in a worker thread (`settle_all`) while the
event loop writes the batch before it (COPY/INSERT encoding in asyncpg, the transaction). The
two share one GIL, so both halves count; cProfile sees one thread per profiler, hence two.

`python -m bench profile` (BENCH_PROFILE_EVENTS, default 100,000; BENCH_PROFILE_TOP rows of
each table). Profiling slows Python down by about half: the rates here compare versions of
the code, they are not the writer's speed (that is `python -m bench sink`).
"""

from __future__ import annotations

import asyncio
import cProfile
import io
import os
import pstats
import secrets
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any

from db_writer.batch_writer import BatchWriter
from db_writer.config import Settings
from db_writer.consumer import DbWriter
from devstack.deploy import DeploymentRecord
from devstack.paths import stack_dir

from bench import mixed_stream, own_stack, writer_runs

COUNT = int(os.environ.get("BENCH_PROFILE_EVENTS", "100000"))
TOP = int(os.environ.get("BENCH_PROFILE_TOP", "18"))


def _profiled(profile: cProfile.Profile, call: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        profile.enable()
        try:
            return call(*args, **kwargs)
        finally:
            profile.disable()

    return wrapper


async def _until_caught_up(
    settings: Settings, db: own_stack.Database, ends: Mapping[int, int]
) -> float:
    stop = asyncio.Event()
    started = time.perf_counter()
    running = asyncio.create_task(DbWriter(settings).run(stop))
    watcher = asyncio.create_task(writer_runs.caught_up(db, settings.writer_group_id, ends, []))
    done, _ = await asyncio.wait({running, watcher}, return_when=asyncio.FIRST_COMPLETED)
    if running in done:
        running.result()
        raise RuntimeError("the writer stopped before it caught up")
    elapsed = time.perf_counter() - started
    stop.set()
    await running
    return elapsed


def _table(profile: cProfile.Profile, title: str) -> str:
    out = io.StringIO()
    stats = pstats.Stats(profile, stream=out)
    total = sum(row[2] for row in stats.stats.values())  # type: ignore[attr-defined]
    out.write(f"--- {title}: {total:.2f}s of CPU in profiled code, top {TOP} by own time\n")
    stats.sort_stats("tottime").print_stats(TOP)
    return out.getvalue()


def run() -> str:
    with own_stack.bench_stack() as env:
        deployment = DeploymentRecord.model_validate_json(
            (stack_dir() / "deployment.json").read_text()
        )
        records = mixed_stream.serialised(deployment, COUNT)
        published = asyncio.run(own_stack.publish(env["KAFKA_BOOTSTRAP_SERVERS"], records))
        del records
        db = own_stack.fresh_database(env, "profile")
        asyncio.run(own_stack.checkpoint(env["POSTGRES_ADMIN_URL"]))
        settings = Settings.model_validate(
            {
                "kafka_bootstrap_servers": env["KAFKA_BOOTSTRAP_SERVERS"],
                "database_url": db.writer_url,
                "field_encryption_key": env["FIELD_ENCRYPTION_KEY"],
                "writer_group_id": f"bench-profile-{secrets.token_hex(3)}",
            }
        )
        loop_profile, settle_profile = cProfile.Profile(), cProfile.Profile()
        original = BatchWriter.settle_all
        BatchWriter.settle_all = _profiled(settle_profile, original)  # type: ignore[method-assign]
        try:
            loop_profile.enable()
            seconds = asyncio.run(_until_caught_up(settings, db, published.ends()))
            loop_profile.disable()
        finally:
            BatchWriter.settle_all = original  # type: ignore[method-assign]
    return "\n".join(
        [
            f"profile: db-writer in-process under cProfile, {COUNT:,} mixed events in "
            f"{seconds:.1f}s = {COUNT / seconds:,.0f} events/s (profiled, slower than real)",
            _table(settle_profile, "settle thread (decode, validate, map, encrypt)"),
            _table(loop_profile, "event loop (consume, COPY/INSERT encoding, transactions)"),
        ]
    )


def main() -> int:
    print(f"command: BENCH_PROFILE_EVENTS={COUNT} .venv/bin/python -m bench profile")
    print(run())
    return 0


if __name__ == "__main__":
    sys.exit(main())
