"""Two benchmarks of one checkout never share a stack directory: the second is refused."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bench import BenchStackBusy, stack_claimed

HOLD = """
import sys, time
from pathlib import Path
from bench import stack_claimed
with stack_claimed(Path(sys.argv[1])):
    print("held", flush=True)
    time.sleep(60)
"""


def test_a_second_claim_is_refused_with_the_holders_pid(tmp_path: Path) -> None:
    directory = tmp_path / ".stack-bench"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(directory)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(BenchStackBusy, match=f"pid {holder.pid}"), stack_claimed(directory):
            pass
    finally:
        holder.kill()
        holder.wait()
    with stack_claimed(directory):  # free again once its holder is gone
        pass
