"""CPU time of processes from `/proc`: a benchmark's own figure is not the whole cost when the
stack's Postgres and Kafka work for it on the same cores."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from devstack import kafka as kafka_stack
from devstack import postgres, procs

from bench.rss import processes, stat_fields

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """utime + stime of the process and of its waited-for children (`/proc/<pid>/stat`)."""
    fields = stat_fields(Path(f"/proc/{pid}/stat").read_text())
    # from field 3 (state) on: utime, stime, cutime, cstime are fields 14..17
    return sum(int(ticks) for ticks in fields[11:15]) / CLOCK_TICKS


def tree_cpu_seconds(name: str, pid: int | None) -> float:
    """CPU of a stack process and of its live children: Postgres's backends live as the
    postmaster's children, and those that exited are in its cutime already."""
    if pid is None:
        raise procs.StackError(f"{name} is not running")
    children = sum(
        int(fields[11]) + int(fields[12])  # utime, stime
        for _, fields in processes()
        if int(fields[1]) == pid  # field 4, the parent's pid
    )
    return cpu_seconds(pid) + children / CLOCK_TICKS


def started_tree_cpu_seconds(name: str) -> float:
    """`tree_cpu_seconds` of the process `procs` started as `name` (the broker, a node)."""
    return tree_cpu_seconds(name, procs.running_pid(name))


@dataclass(frozen=True)
class StackSpent:
    postgres_cpu_s: float
    kafka_cpu_s: float


class StackCpu:
    """CPU the stack's Postgres and Kafka spend from its creation until `stop`: the work a
    sink asks of them, which shares the machine's cores with the sink itself."""

    def __init__(self) -> None:
        self.started = self._now()

    @staticmethod
    def _now() -> StackSpent:
        return StackSpent(
            tree_cpu_seconds(postgres.NAME, postgres.postmaster_pid()),
            started_tree_cpu_seconds(kafka_stack.NAME),
        )

    def stop(self) -> StackSpent:
        now = self._now()
        return StackSpent(
            now.postgres_cpu_s - self.started.postgres_cpu_s,
            now.kafka_cpu_s - self.started.kafka_cpu_s,
        )
