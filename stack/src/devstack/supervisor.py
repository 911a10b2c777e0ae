"""What compose's restart policy or Kubernetes does for the local run: a service that exits is
noticed within a second, said so, and started again after a backoff that doubles while it keeps
dying (reset once it has stayed up a minute). Checking a service also reaps it if it died, so no
zombie is left behind."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from devstack import procs, services
from devstack.paths import log_dir


@dataclass
class _Watch:
    overrides: Mapping[str, str]
    failures: int = 0
    restart_at: float | None = None
    up_since: float = field(default_factory=time.monotonic)


class Supervisor:
    def __init__(
        self,
        overrides: Mapping[str, Mapping[str, str]],
        say: Callable[[str], None],
        *,
        stack: Mapping[str, str] | None = None,
        prefix: str = "svc",
        check_every_s: float = 1.0,
        backoff_base_s: float = 1.0,
        backoff_max_s: float = 30.0,
        stable_after_s: float = 60.0,
    ) -> None:
        """`overrides`: the services to watch, each with the settings it was started with."""
        self.watched = {name: _Watch(values) for name, values in overrides.items()}
        self.say = say
        self.stack = stack
        self.prefix = prefix
        self.check_every_s = check_every_s
        self.backoff_base_s = backoff_base_s
        self.backoff_max_s = backoff_max_s
        self.stable_after_s = stable_after_s
        self.restarts: dict[str, int] = dict.fromkeys(overrides, 0)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await asyncio.to_thread(self.check)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.check_every_s)

    def check(self) -> None:
        """One round: notice what exited, restart what is due."""
        for name, watch in self.watched.items():
            now = time.monotonic()
            if watch.restart_at is None:
                if services.running(name, prefix=self.prefix):
                    if now - watch.up_since >= self.stable_after_s:
                        watch.failures = 0
                    continue
                watch.failures += 1
                delay = min(self.backoff_max_s, self.backoff_base_s * 2 ** (watch.failures - 1))
                watch.restart_at = now + delay
                log = log_dir() / f"{services.SERVICES[name].process(self.prefix)}.log"
                self.say(f"supervisor: {name} exited; restarting in {delay:.0f}s (log: {log})")
            elif now >= watch.restart_at:
                self._restart(name, watch)

    def _restart(self, name: str, watch: _Watch) -> None:
        watch.restart_at = None
        try:
            urls = services.start([name], watch.overrides, stack=self.stack, prefix=self.prefix)
        except (procs.StackError, OSError) as failed:
            first = (str(failed).splitlines() or [repr(failed)])[0]
            self.say(f"supervisor: {name} did not come back: {first}")
            return  # the next round sees it down and backs off further
        watch.up_since = time.monotonic()
        self.restarts[name] += 1
        where = f" at {next(iter(urls.values()))}" if urls else ""
        self.say(f"supervisor: {name} restarted{where}")
