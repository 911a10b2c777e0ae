"""Resident memory of service processes from `/proc`: what a benchmark samples to show a
service's memory stays flat while events flow through it.

A service is its process group: `devstack.procs` starts each in a session of its own, and some
spawn children (the API's reserves hasher), whose memory is the service's too."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

PROC = Path("/proc")


def status_kib(status: str, name: str) -> int:
    """A `kB` field of a `/proc/<pid>/status` text (`VmRSS`, `VmHWM`); 0 when absent, as it is
    for a zombie whose memory is already gone."""
    for line in status.splitlines():
        key, _, value = line.partition(":")
        if key == name:
            return int(value.split()[0])
    return 0


def stat_fields(stat: str) -> list[str]:
    """The fields of a `/proc/<pid>/stat` text from field 3 (state) on: the command name before
    them may hold spaces and parentheses, so they count from its last `)`."""
    return stat.rsplit(")", 1)[1].split()


def group_of(stat: str) -> int:
    """The process group of a `/proc/<pid>/stat` text (field 5)."""
    return int(stat_fields(stat)[2])


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except OSError:  # the process ended between listing and reading
        return None


def processes(proc: Path = PROC) -> Iterator[tuple[int, list[str]]]:
    """Every live process: its pid and `stat_fields` (one that ends meanwhile is left out)."""
    for entry in proc.iterdir():
        if entry.name.isdigit():
            stat = _read(entry / "stat")
            if stat is not None:
                yield int(entry.name), stat_fields(stat)


def group_members(leader: int, proc: Path = PROC) -> list[int]:
    """Every live process of `leader`'s process group, the leader first."""
    others = (pid for pid, fields in processes(proc) if pid != leader and int(fields[2]) == leader)
    return [leader, *others]


def field_mib(pid: int, name: str, proc: Path = PROC) -> float:
    status = _read(proc / str(pid) / "status")
    return 0.0 if status is None else status_kib(status, name) / 1024


def group_rss_mib(leader: int, proc: Path = PROC) -> float:
    return sum(field_mib(pid, "VmRSS", proc) for pid in group_members(leader, proc))


@dataclass(frozen=True)
class Sample:
    seconds: float
    progress: float
    """The share of the work done when sampled, 0..1."""
    rss_mib: Mapping[str, float]


@dataclass
class Samples:
    """RSS of each service over a run, with how far the run was at each sample."""

    taken: list[Sample] = field(default_factory=list)

    def add(self, seconds: float, progress: float, leaders: Mapping[str, int]) -> Sample:
        sample = Sample(
            seconds, progress, {name: group_rss_mib(pid) for name, pid in leaders.items()}
        )
        self.taken.append(sample)
        return sample

    def peak(self, service: str) -> float:
        return max((s.rss_mib.get(service, 0.0) for s in self.taken), default=0.0)

    def at(self, progress: float) -> Sample | None:
        """The first sample at or past `progress` of the work."""
        return next((s for s in self.taken if s.progress >= progress), None)


def at_progress(samples: Samples, service: str, marks: Iterable[float]) -> list[float | None]:
    """The service's RSS at each mark of progress (None: the run never got there)."""
    found = (samples.at(mark) for mark in marks)
    return [None if s is None else s.rss_mib.get(service) for s in found]
