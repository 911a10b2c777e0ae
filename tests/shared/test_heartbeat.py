"""A worker's heartbeat and the probe server that answers for it."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from reservesync.heartbeat import Heartbeat
from reservesync.probe_server import ProbeServer


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_starting_worker_is_alive_but_not_ready() -> None:
    pulse = Heartbeat(FakeClock()).pulse("db-writer", 60)
    assert (pulse.alive, pulse.ready) == (True, False)
    assert pulse.line.startswith("db-writer starting;")


def test_a_beating_worker_is_ready_and_shows_its_facts() -> None:
    clock = FakeClock()
    heartbeat = Heartbeat(clock)
    heartbeat.beat(partitions=12, records_polled=40)
    clock.now += 2.5
    pulse = heartbeat.pulse("db-writer", 60)
    assert (pulse.alive, pulse.ready) == (True, True)
    assert pulse.line == "db-writer ok; last loop 2.5 s ago; partitions=12 records_polled=40"


def test_a_silent_loop_is_reported_dead() -> None:
    clock = FakeClock()
    heartbeat = Heartbeat(clock)
    heartbeat.beat()
    clock.now += 61
    pulse = heartbeat.pulse("chain-listener", 60)
    assert (pulse.alive, pulse.ready) == (False, False)
    assert "stalled: no loop for 61 s (limit 60 s)" in pulse.line


def test_waiting_for_a_dependency_keeps_it_alive_and_unready_until_reached() -> None:
    clock = FakeClock()
    heartbeat = Heartbeat(clock)
    heartbeat.beat()
    clock.now += 50
    heartbeat.waiting_for("database")
    clock.now += 50  # 100 s since the loop's last beat, 50 s since the last retry
    waiting = heartbeat.pulse("db-writer", 60)
    assert (waiting.alive, waiting.ready) == (True, False)
    assert "waiting for database" in waiting.line
    heartbeat.beat()  # the loop turning again does not mean the database is back
    assert not heartbeat.pulse("db-writer", 60).ready
    heartbeat.reached("database")
    assert heartbeat.pulse("db-writer", 60).ready


@pytest.fixture(name="served")
def _served() -> Iterator[tuple[str, Heartbeat, FakeClock]]:
    clock = FakeClock()
    heartbeat = Heartbeat(clock)
    server = ProbeServer("127.0.0.1", 0, "db-writer", heartbeat, 60)
    server.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", heartbeat, clock
    finally:
        server.shutdown()
        server.server_close()


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as refused:
        return refused.code, refused.read().decode()


def test_the_probe_server_answers_from_the_heartbeat(
    served: tuple[str, Heartbeat, FakeClock],
) -> None:
    url, heartbeat, clock = served
    assert _get(f"{url}/healthz")[0] == 200
    assert _get(f"{url}/readyz") == (503, "db-writer starting; last loop 0.0 s ago\n")
    heartbeat.beat(records_polled=7)
    assert _get(f"{url}/readyz") == (200, "db-writer ok; last loop 0.0 s ago; records_polled=7\n")
    clock.now += 120
    status, line = _get(f"{url}/healthz")
    assert status == 503
    assert "stalled" in line


def test_the_probe_server_serves_metrics_and_refuses_other_paths(
    served: tuple[str, Heartbeat, FakeClock],
) -> None:
    url, _, _ = served
    status, text = _get(f"{url}/metrics")
    assert status == 200
    assert "python_info" in text
    status, text = _get(f"{url}/admin")
    assert status == 404
    assert "/healthz" in text
