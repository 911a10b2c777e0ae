"""Where the chain-listener spends its CPU in a backfill: cProfile of the listener in this
process over the chain of `bench/backfill.py` (fetching, checks, decoding, publishing; one
event loop, so one profile).

`python -m bench profile-listener` (BENCH_BACKFILL_EVENTS, default 100,000;
BENCH_PROFILE_TOP rows). Profiled, so slower than real: the rate compares versions of the
code, the listener's speed is `python -m bench backfill`.
"""

from __future__ import annotations

import asyncio
import cProfile
import io
import pstats
import sys
import tempfile
from pathlib import Path

from bench import backfill
from bench.private_chain import (
    BACKFILL_CHAIN_ID,
    compile_with_test_contracts,
    load_deposits,
    private_chain,
)
from bench.profile_writer import TOP


def run() -> str:
    with tempfile.TemporaryDirectory() as build, backfill.kafka() as bootstrap:
        contracts = compile_with_test_contracts(Path(build))
        with private_chain(contracts, "bench-hardhat", BACKFILL_CHAIN_ID) as node:
            first, last, events = load_deposits(node, contracts, backfill.COUNT)
            # The first run pays for a cold broker (topic leaders, producer id): not profiled.
            asyncio.run(backfill.listener_backfill(bootstrap, node, first, last))
            profile = cProfile.Profile()
            profile.enable()
            backfilled = asyncio.run(backfill.listener_backfill(bootstrap, node, first, last))
            profile.disable()
    out = io.StringIO()
    stats = pstats.Stats(profile, stream=out)
    seconds = backfilled.seconds
    out.write(
        f"profile: chain-listener in-process under cProfile, {events:,} events in {seconds:.1f}s"
        f" = {events / seconds:,.0f} events/s (profiled, slower than real)\n"
    )
    stats.sort_stats("tottime").print_stats(TOP)
    stats.sort_stats("cumulative").print_stats(TOP * 2)
    return out.getvalue()


def main() -> int:
    print(
        f"command: BENCH_BACKFILL_EVENTS={backfill.COUNT} "
        ".venv/bin/python -m bench profile-listener"
    )
    print(run())
    return 0


if __name__ == "__main__":
    sys.exit(main())
