"""Pull mode: every `ORACLE_PULL_INTERVAL_S`, GET the oracle's `/users`, decrypt, validate and
publish the user states that changed.

The oracle answers `{encrypted: true, data, iv, authTag, algorithm: "aes-256-gcm", timestamp}`
(hex fields) under the key `ORACLE_STATE_KEY`. A payload that does not decrypt (tampered tag,
wrong key) or is malformed is never published: it is reported by an error log, the
`oracle_logger_state_pulls_total{outcome=...}` metric, and a dead letter on `rbtc.dlq.v1`
(source_topic `oracle:/users`, partition 0, offset 0) that carries the encrypted payload as
received, never plaintext: decrypted states hold Bitcoin addresses, which are stored encrypted
everywhere else.

Unlike the push API this is not all-or-nothing: nobody is waiting for an answer, so one bad
user must not hold back every other user's state forever. Valid states are published, the bad
ones are named (by index) in a dead letter. Users missing from a later payload are left alone
(no tombstone): an incomplete answer of the oracle must not delete users.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import ValidationError
from reservesync.dead_letters import dead_letter
from reservesync.envelope import EnvelopeRejected
from reservesync.messages import OracleUserState
from reservesync.oracle_source import decrypt_users

from oracle_logger import metrics
from oracle_logger.publishing import Publisher, PublishFailed, digest

log = logging.getLogger(__name__)

SOURCE = "oracle:/users"
"""The dead letters' `source_topic`: not a Kafka topic, the endpoint the payload came from."""
SERVICE = "oracle-logger"


@dataclass(frozen=True)
class PullResult:
    outcome: str
    published: int = 0
    unchanged: int = 0
    rejected: int = 0


@dataclass
class _Received:
    """What the dead-letter helper needs to know about the payload (a `ConsumedRecord`)."""

    value: bytes | None
    topic: str = SOURCE
    partition: int = 0
    offset: int = 0
    key: bytes | None = None


class StatePuller:
    def __init__(
        self,
        url: str,
        key: bytes,
        *,
        publisher: Publisher,
        http: httpx.AsyncClient,
        interval_s: float,
    ) -> None:
        self._url = url
        self._key = key
        self._publisher = publisher
        self._http = http
        self._interval_s = interval_s
        # Digest of the last published state per user: an unchanged user is not published
        # again every interval (the compacted topic would churn for nothing).
        self._published: dict[str, str] = {}

    async def run(self) -> None:
        while True:
            try:
                await self.pull_once()
            except Exception:
                # The loop must outlive any single bad cycle; the next one tries again.
                log.exception("state pull failed")
                metrics.STATE_PULLS.labels("error").inc()
            await asyncio.sleep(self._interval_s)

    async def pull_once(self) -> PullResult:
        try:
            response = await self._http.get(self._url)
            response.raise_for_status()
        except httpx.HTTPError as exc:
            # Nothing was received, so there is nothing to dead-letter; the next cycle retries.
            log.warning("could not fetch the oracle's users", extra={"cause": repr(exc)})
            return self._counted(PullResult("fetch_failed"))
        body = response.content
        try:
            items = decrypt_users(body, self._key)
        except EnvelopeRejected as exc:
            await self._report(body, exc)
            return self._counted(PullResult(exc.outcome, rejected=1))
        states, problems = _validate(items)
        changed = [s for s in states if self._published.get(s.user_address) != digest(s.to_json())]
        # Every interval, so DEBUG: at INFO it would be most of the service's log.
        log.debug(
            "pulled the oracle's users", extra={"users": len(states), "changed": len(changed)}
        )
        if changed:
            try:
                await self._publisher.publish_states(changed, source="pull")
            except PublishFailed:
                # Not remembered as published, so the next cycle publishes them again.
                return self._counted(PullResult("publish_failed"))
            self._published.update({s.user_address: digest(s.to_json()) for s in changed})
        if problems:
            await self._report(
                body,
                EnvelopeRejected("invalid_items", "invalid user states: " + "; ".join(problems)),
            )
        return self._counted(
            PullResult(
                "invalid_items" if problems else "ok",
                published=len(changed),
                unchanged=len(states) - len(changed),
                rejected=len(problems),
            )
        )

    async def _report(self, body: bytes, problem: EnvelopeRejected) -> None:
        log.error(
            "rejected the oracle's users payload",
            extra={"outcome": problem.outcome, "reason": str(problem), "bytes": len(body)},
        )
        try:
            await self._publisher.publish_dead_letter(
                dead_letter(_Received(body), problem, SERVICE)
            )
        except Exception:
            log.exception("could not publish the dead letter of a rejected users payload")
            metrics.STATE_PULLS.labels("dead_letter_failed").inc()

    @staticmethod
    def _counted(result: PullResult) -> PullResult:
        metrics.STATE_PULLS.labels(result.outcome).inc()
        return result


def _validate(items: list[Any]) -> tuple[list[OracleUserState], list[str]]:
    states: list[OracleUserState] = []
    problems: list[str] = []
    for index, item in enumerate(items):
        try:
            states.append(OracleUserState.model_validate(item))
        except ValidationError as exc:
            first = exc.errors(include_url=False, include_input=False)[0]
            where = ".".join(str(part) for part in first["loc"]) or "<item>"
            problems.append(f"item {index}: {where}: {first['msg']}")
    return states, problems
