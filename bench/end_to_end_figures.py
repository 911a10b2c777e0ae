"""What an end-to-end run observed (the load, the stages over time, the answers, each service's
memory), and the lines it is printed as."""

from __future__ import annotations

import os
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from bench import rss

PIPELINE = ("chain-listener", "db-writer", "health", "api")
MARKS = (0.1, 0.5, 1.0)


@dataclass(frozen=True)
class Loaded:
    first_block: int
    last_block: int
    events: int
    seconds: float
    node_rss_mib: float


@dataclass(frozen=True)
class Point:
    seconds: float
    in_kafka: int
    """Sum of the chain topic's end offsets (records and transaction markers)."""
    rows: int


@dataclass(frozen=True)
class Answer:
    what: str
    status: int
    ms: float
    during: bool
    """Asked while events were still being written (False: after the last row)."""


@dataclass
class Run:
    """What the pipeline's part of the benchmark observed, filled as it goes."""

    loaded: Loaded
    points: list[Point] = field(default_factory=list)
    memory: rss.Samples = field(default_factory=rss.Samples)
    answers: list[Answer] = field(default_factory=list)
    published_s: float | None = None
    """When the listener had published the last block."""
    rows_s: float = 0.0
    health_s: float = 0.0
    health: dict[str, object] = field(default_factory=dict)
    high_water_mib: dict[str, float] = field(default_factory=dict)
    counted_rows: int = 0
    load_at_end: tuple[float, float, float] = (0.0, 0.0, 0.0)
    sample_s: float = 0.0
    """How often the pipeline was sampled."""


def load_now() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def progress_line(run: Run) -> str:
    point = run.points[-1]
    memory = run.memory.taken[-1].rss_mib
    each = ", ".join(f"{name} {mib:,.0f}" for name, mib in memory.items())
    return (
        f"  {point.seconds:>6.0f}s: {point.in_kafka:,} Kafka offsets, {point.rows:,} of "
        f"{run.loaded.events:,} rows ({100 * point.rows / run.loaded.events:.0f} %); "
        f"RSS MiB {each}; load {load_now()}"
    )


def _rate(count: float, seconds: float | None) -> str:
    return "n/a" if not seconds else f"{count / seconds:,.0f}/s"


def timeline(points: Sequence[Point], events: int) -> list[str]:
    """One line at each tenth of the rows: where both stages were, and their rates since the
    previous line."""
    out, previous = [], Point(0.0, 0, 0)
    for tenth in range(1, 11):
        point = next((p for p in points if p.rows >= events * tenth / 10), None)
        if point is None or point.seconds == previous.seconds:
            continue
        span = point.seconds - previous.seconds
        out.append(
            f"    {point.seconds:>7.0f}s  {point.in_kafka:>12,}  {point.rows:>12,}  "
            f"{(point.in_kafka - previous.in_kafka) / span:>10,.0f}/s  "
            f"{(point.rows - previous.rows) / span:>10,.0f}/s"
        )
        previous = point
    return out


def answer_lines(answers: Sequence[Answer]) -> list[str]:
    out = []
    for what in dict.fromkeys(a.what for a in answers):
        for during in (True, False):
            got = [a for a in answers if a.what == what and a.during is during]
            if got:
                ok = sum(1 for a in got if a.status == 200)
                ms = [a.ms for a in got]
                out.append(
                    f"    {what} {'during' if during else 'after'}: {ok}/{len(got)} answered 200, "
                    f"median {statistics.median(ms):.0f} ms, max {max(ms):.0f} ms"
                )
    return out


def memory_lines(run: Run) -> list[str]:
    out = [
        "    service          at 10 %    at 50 %   at 100 %   peak sampled   VmHWM (main process)"
    ]
    for name in (*PIPELINE, "node"):
        marks = rss.at_progress(run.memory, name, MARKS)
        cells = "".join(f"{'-' if m is None else f'{m:,.0f}':>11}" for m in marks)
        hwm = run.high_water_mib.get(name)
        out.append(
            f"    {name:<15}{cells}{run.memory.peak(name):>15,.0f}"
            f"{'-' if hwm is None else f'{hwm:,.0f}':>8}"
        )
    return out


def health_line(report: Mapping[str, object]) -> str:
    components = report.get("components")
    below = [
        f"{c.get('component')} {c.get('percent')} % ({c.get('database_count')} of "
        f"{c.get('source_count')}: {c.get('reason')})"
        for c in (components if isinstance(components, list) else [])
        if isinstance(c, dict) and c.get("percent") != 100
    ]
    return (
        f"score {report.get('score')}, {report.get('overall')}, sources ready "
        f"{report.get('sources_ready')}" + (f"; below 100 %: {'; '.join(below)}" if below else "")
    )


def lines(run: Run) -> list[str]:
    loaded, events = run.loaded, run.loaded.events
    return [
        f"end to end: {events:,} FeeVault Deposited events in "
        f"{loaded.last_block - loaded.first_block + 1:,} blocks of a private Hardhat node "
        f"-> chain-listener -> Kafka -> db-writer -> Postgres -> health -> api",
        f"  loading the node (before the clock): {loaded.seconds:,.0f}s = "
        f"{_rate(events, loaded.seconds)}, node RSS {loaded.node_rss_mib:,.0f} MiB after",
        f"  every event a committed row {run.rows_s:,.0f}s after the services' start = "
        f"{_rate(events, run.rows_s)}; the listener had published the last block at "
        f"{run.published_s or 0:,.0f}s = {_rate(events, run.published_s)}; "
        f"count(*) of the rows: {run.counted_rows:,} "
        f"({'exact' if run.counted_rows == events else 'NOT equal to the events'})",
        f"  health read the chain through the last block at {run.health_s:,.0f}s: "
        + health_line(run.health),
        "  stages over time (at each tenth of the rows; Kafka offsets count transaction "
        "markers too):",
        "          time  Kafka offsets          rows    to Kafka   to Postgres",
        *timeline(run.points, events),
        "  answers (every 10 s while writing, once after):",
        *answer_lines(run.answers),
        f"  RSS MiB of each service's processes ({len(run.memory.taken)} samples, every "
        f"{run.sample_s:g}s; at a share of the rows committed):",
        *memory_lines(run),
        f"  load average at the end {' '.join(f'{x:.2f}' for x in run.load_at_end)}",
    ]
