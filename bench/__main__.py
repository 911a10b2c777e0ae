"""`make bench` (= `python -m bench`): run every benchmark, print figures and the command."""

from __future__ import annotations

import platform
import sys

from bench import api, backfill, codec, health, sink


def main() -> int:
    print(
        f"machine: {platform.machine()}, {platform.python_implementation()} "
        f"{platform.python_version()}, {sys.platform}"
    )
    print(
        "command: make bench   (BENCH_CODEC_EVENTS=N, BENCH_SINK_EVENTS=N, BENCH_HEALTH_ROWS=N, "
        "BENCH_API_USERS=N, BENCH_API_RATE=N to change the sizes)"
    )
    figures = codec.run()
    print(
        f"codec: decode+validate+map {figures['events']:.0f} chain.event/v1 in "
        f"{figures['seconds']:.2f}s = {figures['events_per_s']:,.0f} events/s on one core, "
        f"peak extra memory {figures['peak_traced_mib']:.1f} MiB (tracemalloc)"
    )
    for line in sink.lines(sink.run()):
        print(line)
    backfill.main()
    for line in health.lines(health.run()):
        print(line)
    for line in api.lines(api.run()):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
