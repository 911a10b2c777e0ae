"""The memory sampler of the benchmarks: /proc's texts read as the kernel writes them, and the
RSS of a run looked up by how far the run was."""

from __future__ import annotations

from pathlib import Path

from bench import rss

STATUS = """Name:\tpython
State:\tS (sleeping)
VmPeak:\t  912344 kB
VmHWM:\t  220156 kB
VmRSS:\t  201728 kB
Threads:\t5
"""


def test_a_status_field_is_read_in_kib() -> None:
    assert rss.status_kib(STATUS, "VmRSS") == 201728
    assert rss.status_kib(STATUS, "VmHWM") == 220156


def test_a_zombie_has_no_resident_memory() -> None:
    assert rss.status_kib("Name:\tpython\nState:\tZ (zombie)\n", "VmRSS") == 0


def test_the_group_is_read_after_the_command_name_whatever_it_holds() -> None:
    stat = "4242 (python -m a) b) S 4200 4100 4100 0 -1 4194560 1337 0 0 0"
    assert rss.group_of(stat) == 4100


def _process(proc: Path, pid: int, group: int, rss_kib: int) -> None:
    (proc / str(pid)).mkdir()
    (proc / str(pid) / "stat").write_text(f"{pid} (python) S 1 {group} {group} 0")
    (proc / str(pid) / "status").write_text(f"Name:\tpython\nVmRSS:\t{rss_kib} kB\n")


def test_a_service_is_its_whole_process_group(tmp_path: Path) -> None:
    _process(tmp_path, 100, 100, 1024)
    _process(tmp_path, 101, 100, 2048)  # a child it spawned
    _process(tmp_path, 200, 200, 4096)  # another service
    (tmp_path / "self").mkdir()
    assert sorted(rss.group_members(100, tmp_path)) == [100, 101]
    assert rss.group_rss_mib(100, tmp_path) == 3.0


def test_a_process_gone_counts_nothing(tmp_path: Path) -> None:
    assert rss.field_mib(12345, "VmRSS", tmp_path) == 0.0


def test_rss_is_looked_up_by_progress() -> None:
    samples = rss.Samples()
    for progress, mib in ((0.0, 100.0), (0.2, 150.0), (0.6, 160.0), (1.0, 155.0)):
        samples.taken.append(rss.Sample(progress * 100, progress, {"db-writer": mib}))
    assert rss.at_progress(samples, "db-writer", (0.1, 0.5, 1.0)) == [150.0, 160.0, 155.0]
    assert samples.peak("db-writer") == 160.0
    assert rss.at_progress(rss.Samples(), "db-writer", (0.1,)) == [None]
