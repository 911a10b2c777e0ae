"""`python -m bench [name ...]`: run the named benchmarks (all of them by default, which is what
`make bench` does), each printing its figures and the command that reproduces them."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from collections.abc import Callable

from bench import backfill, codec, connect_sink, latency, profile_writer, scaling, sink


def _codec() -> None:
    figures = codec.run()
    print(
        f"codec: decode+validate+map {figures['events']:.0f} chain.event/v1 in "
        f"{figures['seconds']:.2f}s = {figures['events_per_s']:,.0f} events/s on one core, "
        f"peak extra memory {figures['peak_traced_mib']:.1f} MiB (tracemalloc)"
    )


def _sink() -> None:
    for line in sink.lines(sink.run()):
        print(line)


BENCHMARKS: dict[str, tuple[Callable[[], object], str]] = {
    "codec": (_codec, "BENCH_CODEC_EVENTS"),
    "sink": (_sink, "BENCH_SINK_EVENTS, BENCH_SINK_WRITERS"),
    "backfill": (backfill.main, "BENCH_BACKFILL_EVENTS"),
    "connect": (connect_sink.main, "BENCH_CONNECT_EVENTS, BENCH_CONNECT_TASKS/BATCH/POLL"),
    "latency": (latency.main, "BENCH_LATENCY_RATES, BENCH_LATENCY_SECONDS, BENCH_LATENCY_POLL_S"),
    "scaling": (
        scaling.main,
        "BENCH_SCALING_EVENTS, BENCH_SCALING_WRITERS, BENCH_SCALING_SIZES, BENCH_SCALING_BATCH",
    ),
    "profile": (profile_writer.main, "BENCH_PROFILE_EVENTS"),
}
NOT_BY_DEFAULT = {"profile"}
"""Tools rather than figures: run only when named."""


def _machine() -> str:
    memory_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    java = subprocess.run(["java", "-version"], capture_output=True, text=True, check=False)
    return (
        f"machine: {platform.machine()}, {os.cpu_count()} cores, {memory_gib:.0f} GiB, "
        f"{platform.python_implementation()} {platform.python_version()}, "
        f"{(java.stderr.splitlines() or ['no java'])[0]}, load average "
        + " ".join(f"{load:.2f}" for load in os.getloadavg())
    )


def main(argv: list[str]) -> int:
    names = argv or [name for name in BENCHMARKS if name not in NOT_BY_DEFAULT]
    unknown = [name for name in names if name not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s) {unknown}; known: {', '.join(BENCHMARKS)}", file=sys.stderr)
        return 2
    print(_machine())
    for name in names:
        run, sizes = BENCHMARKS[name]
        print(f"== {name}   (python -m bench {name}; sizes: {sizes})")
        run()
        print("   load average after: " + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
