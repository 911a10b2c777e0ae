"""The runner's process bookkeeping: a stack in use is not wiped without --force; a dead or
zombie child is not counted as running."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from devstack import procs, stack
from devstack.paths import stack_dir_at

SLEEPER = [sys.executable, "-c", "import time; time.sleep(600)"]


def test_a_new_world_refuses_a_stack_whose_services_run(tmp_path: Path) -> None:
    with stack_dir_at(tmp_path):
        procs.start("svc-api", SLEEPER)
        try:
            with pytest.raises(procs.StackError, match=r"in use \(svc-api running\).*--force"):
                stack.new_world()
            assert procs.running_pid("svc-api") is not None, "the guard stopped the service"
        finally:
            procs.stop("svc-api")
        assert stack.running_services() == []
