"""`python -m bench [name ...]`: run the named benchmarks (all of them by default, which is what
`make bench` does), each printing its figures and the command that reproduces them."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable

from reservesync import cli

from bench import (
    BenchStackBusy,
    api,
    backfill,
    codec,
    connect_sink,
    end_to_end,
    health,
    latency,
    machine,
    ponder_backfill,
    profile_listener,
    profile_writer,
    scaling,
    sink,
)


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


def _health() -> None:
    for line in health.lines(health.run()):
        print(line)


def _api() -> None:
    for line in api.lines(api.run()):
        print(line)


BENCHMARKS: dict[str, tuple[Callable[[], object], str]] = {
    "codec": (_codec, "BENCH_CODEC_EVENTS"),
    "sink": (_sink, "BENCH_SINK_EVENTS, BENCH_SINK_WRITERS"),
    "backfill": (backfill.main, "BENCH_BACKFILL_EVENTS, BENCH_BACKFILL_ROUNDS"),
    "connect": (connect_sink.main, "BENCH_CONNECT_EVENTS, BENCH_CONNECT_TASKS/BATCH/POLL"),
    "latency": (
        latency.main,
        "BENCH_LATENCY_RATES, BENCH_LATENCY_SECONDS, BENCH_LATENCY_MODES, "
        "BENCH_LATENCY_IDLE_S, BENCH_LATENCY_POLL_S, BENCH_LATENCY_MAX_BLOCKS_PER_S",
    ),
    "scaling": (
        scaling.main,
        "BENCH_SCALING_EVENTS, BENCH_SCALING_WRITERS, BENCH_SCALING_SIZES, BENCH_SCALING_BATCH",
    ),
    "health": (_health, "BENCH_HEALTH_ROWS, BENCH_HEALTH_EVENTS"),
    "api": (_api, "BENCH_API_USERS, BENCH_API_RATE"),
    "profile": (profile_writer.main, "BENCH_PROFILE_EVENTS"),
    "profile-listener": (profile_listener.main, "BENCH_BACKFILL_EVENTS"),
    "ponder": (ponder_backfill.main, "BENCH_PONDER_EVENTS, BENCH_PONDER_RUNS"),
    "end-to-end": (end_to_end.main, "BENCH_E2E_EVENTS, BENCH_E2E_SAMPLE_S, BENCH_E2E_NODE_MAX_MIB"),
}
NOT_BY_DEFAULT = {"profile", "profile-listener", "ponder", "end-to-end"}
"""Run only when named: a tool rather than figures (the profiles), a third-party comparison whose
first run downloads its npm dependencies (ponder), or a run of most of an hour (end-to-end)."""


def stop_cleanly(signum: int, frame: object) -> None:
    """SIGTERM, and SIGINT where a non-interactive shell's `&` left it ignored, end a run the
    way Ctrl-C does: the `with` blocks stop its node, services and stack on the way out."""
    raise KeyboardInterrupt(f"stopped by {signal.Signals(signum).name}")


def main(argv: list[str]) -> int:
    listing = "\n".join(
        f"  {name:<8} sizes: {sizes}" + ("  (only when named)" if name in NOT_BY_DEFAULT else "")
        for name, (_, sizes) in BENCHMARKS.items()
    )
    parser = cli.parser("python -m bench", __doc__, epilog="benchmarks:\n" + listing)
    parser.add_argument("names", nargs="*", metavar="NAME", help="benchmarks to run")
    args = parser.parse_args(argv)
    names = args.names or [name for name in BENCHMARKS if name not in NOT_BY_DEFAULT]
    unknown = [name for name in names if name not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}; known: {', '.join(BENCHMARKS)}")
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, stop_cleanly)
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"{machine.describe()}, load average {load}")
    for name in names:
        run, sizes = BENCHMARKS[name]
        print(f"== {name}   (python -m bench {name}; sizes: {sizes})")
        run()
        print("   load average after: " + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt as stopped:
        print(f"interrupted ({stopped or 'Ctrl-C'}); the run's node and stack are stopped")
        sys.exit(130)
    except BenchStackBusy as busy:
        sys.exit(f"python -m bench: {busy}")
