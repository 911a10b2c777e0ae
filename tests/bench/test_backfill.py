"""The backfill benchmark's account: each side's fastest run, the CPU bound its figures imply."""

from __future__ import annotations

from bench.backfill import Backfilled, Cpu, best_run, cpu_lines


def test_the_bound_is_the_tighter_of_the_cores_and_the_listeners_thread() -> None:
    raw = Cpu(here_s=1.0, node_s=1.5, kafka_s=0.0)
    ours = Cpu(here_s=5.0, node_s=2.0, kafka_s=1.0)
    lines = cpu_lines(raw_s=3.0, raw=raw, ours=ours, cores=2)
    assert "CPU, raw loop: 2.50s (client 1.00, node 1.50)" in lines
    assert "listener 5.00, node 2.00, Kafka 1.00) = 3.2x the raw loop's" in lines
    # 3 s of raw wall time over 8 s of CPU on two cores; the listener's 5 s on one thread
    assert "listener/raw <= 0.75 on 2 cores with perfect overlap, <= 0.60 by the" in lines


def test_cpu_spent_between_two_readings() -> None:
    spent = Cpu(10.0, 20.0, 30.0) - Cpu(4.0, 5.0, 6.0)
    assert spent == Cpu(6.0, 15.0, 24.0)
    assert spent.total_s == 45.0


def test_the_steady_rate_leaves_out_what_came_before_the_first_events() -> None:
    run = Backfilled(seconds=3.0, first_out_s=1.0, events_first=10_000)
    assert run.steady_per_s(100_000) == 45_000.0
    # a run that published everything at once has no steady part: its whole rate stands
    assert Backfilled(2.0, 2.0, 100_000).steady_per_s(100_000) == 50_000.0


def test_each_side_is_its_fastest_run() -> None:
    cpu = Cpu(0.0, 0.0, 0.0)
    assert best_run([(1, 2.5, cpu), (2, 1.1, cpu), (3, 1.6, cpu)])[0] == 2
    timed = [(Backfilled(s, 0.1, 10), 0.0, cpu) for s in (2.0, 1.8, 2.4)]
    assert best_run(timed, seconds=lambda run: run[0].seconds)[0].seconds == 1.8
