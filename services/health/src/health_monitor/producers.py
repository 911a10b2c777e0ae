"""Liveness of the producers health judges: each worker's `/healthz` (its heartbeat line), asked
every cycle with a short timeout. A killed process refuses the connection; a frozen one
(SIGSTOP, a hung loop) accepts it and never answers, or answers 503 once its heartbeat is
stale: either way it is down, within one cycle and the timeout."""

from __future__ import annotations

import asyncio
import re
import time
import urllib.error
import urllib.request

from pydantic import BaseModel, ConfigDict, Field

FACT = re.compile(r"(\w+)=(\S+)")
CHAIN_LISTENER, DB_WRITER, ORACLE_LOGGER = "chain-listener", "db-writer", "oracle-logger"
BITCOIN_LISTENER = "bitcoin-listener"


class ProducerStatus(BaseModel):
    model_config = ConfigDict(frozen=True)
    name: str
    url: str
    alive: bool
    line: str = Field(description="its heartbeat line, or why it did not answer")
    down_for_s: float = Field(0.0, description="how long it has been down (0 when alive)")
    facts: dict[str, str] = Field(default_factory=dict, description="key=value of its line")


class Producers:
    def __init__(self, probes: dict[str, str], timeout_s: float) -> None:
        self.probes = probes
        self.timeout_s = timeout_s
        self._down_since: dict[str, float] = {}
        self.latest: list[ProducerStatus] = []

    async def poll(self) -> list[ProducerStatus]:
        answers = await asyncio.gather(
            *(asyncio.to_thread(self._ask, url) for url in self.probes.values())
        )
        now = time.monotonic()
        found = []
        for (name, url), (alive, line) in zip(self.probes.items(), answers, strict=True):
            if alive:
                self._down_since.pop(name, None)
            else:
                self._down_since.setdefault(name, now)
            found.append(
                ProducerStatus(
                    name=name,
                    url=url,
                    alive=alive,
                    line=line,
                    down_for_s=round(now - self._down_since.get(name, now), 1),
                    facts=dict(FACT.findall(line)),
                )
            )
        self.latest = found
        return found

    def _ask(self, url: str) -> tuple[bool, str]:
        try:
            with urllib.request.urlopen(  # noqa: S310 - configured probe URLs
                f"{url.rstrip('/')}/healthz", timeout=self.timeout_s
            ) as answer:
                return answer.status == 200, answer.read().decode(errors="replace").strip()
        except urllib.error.HTTPError as refused:
            return False, refused.read().decode(errors="replace").strip() or str(refused)
        except (OSError, ValueError) as exc:
            reason = "no answer (frozen?)" if isinstance(exc, TimeoutError) else str(exc)
            return False, f"{url}: {reason}"

    def get(self, name: str) -> ProducerStatus | None:
        return next((p for p in self.latest if p.name == name), None)
