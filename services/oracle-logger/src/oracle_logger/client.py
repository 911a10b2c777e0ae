"""A small client for oracles: batches operations and delivers them at least once; the
service's idempotency (on `operation_id`) turns that into exactly once on the topic.

    async with OracleLoggerClient(url, "oracle-1", token="...", outbox="oracle.outbox") as client:
        await client.log_operation(op)      # on disk when it returns; sent when the batch is
                                            # full or after max_delay_s
        await client.flush()                # sends what is pending, returns the accepted ids

Every operation goes into the outbox (`oracle_logger.outbox`, a SQLite file) before
`log_operation` returns and leaves it only when the service accepted it, so an oracle that dies
while the service is down loses nothing: the next client on the same file sends the rest first,
in order. (Without a path the outbox is in memory: fine for tests, not for an oracle.)

A batch is retried with jittered exponential backoff on 5xx, 429, timeouts and connection
errors until `retry_for_s` (default 10 minutes) has passed, always with the same body (hence the
same operation ids): a timeout after the server accepted is then answered from its memory, not
published twice. A deadline rather than a count of attempts: a service restarting under load
may take a minute, which eight jittered attempts can spend in seconds. Other 4xx answers are the
caller's to fix and raise `OracleLoggerRejected` at once (a malformed batch is moved to the
outbox's `refused` table; one refused for its credentials stays pending). A batch still failing
at the deadline stays pending (the next flush tries it again) and raises
`OracleLoggerUnavailable`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
from reservesync.messages import Message, OracleOperation

from oracle_logger.outbox import IN_MEMORY, Outbox
from oracle_logger.signing import now_timestamp, signature

log = logging.getLogger(__name__)
_CREDENTIALS = {401, 403}
"""Refusals of who is asking, not of what was sent: the operations stay pending."""


class OracleLoggerRejected(Exception):
    """The service refused the request (4xx other than 429); retrying it unchanged is useless."""

    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"HTTP {status}: {body}")
        self.status = status
        self.body = body


class OracleLoggerUnavailable(Exception):
    """Every attempt failed with a retryable error."""


class OracleLoggerClient:
    def __init__(
        self,
        base_url: str,
        oracle_id: str,
        *,
        token: str | None = None,
        hmac_key: str | None = None,
        batch_size: int = 100,
        max_delay_s: float = 0.5,
        outbox: Path | str | None = None,
        retry_for_s: float = 600.0,
        backoff_base_s: float = 0.2,
        backoff_max_s: float = 10.0,
        timeout_s: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if (token is None) == (hmac_key is None):
            raise ValueError("give exactly one of token and hmac_key")
        self.oracle_id = oracle_id
        self._token = token
        self._hmac_key = hmac_key.encode() if hmac_key is not None else None
        self._batch_size = batch_size
        self._max_delay_s = max_delay_s
        self._retry_for_s = retry_for_s
        self._backoff_base_s = backoff_base_s
        self._backoff_max_s = backoff_max_s
        self._http = httpx.AsyncClient(
            base_url=base_url, timeout=httpx.Timeout(timeout_s), transport=transport
        )
        self.outbox = Outbox(outbox if outbox is not None else IN_MEMORY)
        # One batch on the wire at a time keeps each user's operations in order.
        self._lock = asyncio.Lock()
        self._timer: asyncio.Task[None] | None = None
        self._background_failure: Exception | None = None
        # Once our credentials were refused, leaving the `async with` does not ask again.
        self._credentials_refused = False

    async def __aenter__(self) -> OracleLoggerClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            if exc is None and not self._credentials_refused:
                await self.flush()
        finally:
            await self.aclose()

    async def log_operation(self, operation: OracleOperation) -> None:
        """On disk when this returns; delivered by a flush (this one's when the batch is full,
        else a timed one after `max_delay_s`)."""
        if operation.oracle_id != self.oracle_id:
            raise ValueError(
                f"operation names {operation.oracle_id!r}, client is {self.oracle_id!r}"
            )
        await asyncio.to_thread(self.outbox.add, operation)
        self._raise_background_failure()
        if self.outbox.pending() >= self._batch_size and not self._lock.locked():
            await self.flush()
        elif self._timer is None:
            self._timer = asyncio.create_task(self._flush_later())

    def pending(self) -> int:
        """Operations logged and not yet accepted by the service (this process's or an earlier
        one's on the same outbox)."""
        return self.outbox.pending()

    async def flush(self) -> list[str]:
        """Send everything pending; the ids the service accepted, in order."""
        # A failed timed flush left its batch pending (retried below) unless it was refused.
        failure, self._background_failure = self._background_failure, None
        if isinstance(failure, OracleLoggerRejected):
            raise failure
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        accepted: list[str] = []
        async with self._lock:
            while head := self.outbox.head(self._batch_size):
                sequences = [seq for seq, _ in head]
                try:
                    accepted += await self._post("/v1/operations", [op for _, op in head])
                except OracleLoggerRejected as refused:
                    if refused.status in _CREDENTIALS:
                        self._credentials_refused = True
                    else:
                        await asyncio.to_thread(self.outbox.refuse, sequences, str(refused))
                    raise
                # Unavailable leaves the batch at the head of the outbox for the next flush.
                await asyncio.to_thread(self.outbox.remove, sequences)
        return accepted

    async def aclose(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._timer
            self._timer = None
        await self._http.aclose()
        self.outbox.close()

    async def _flush_later(self) -> None:
        await asyncio.sleep(self._max_delay_s)
        self._timer = None  # from here on an explicit flush must not cancel this one
        try:
            await self.flush()
        except OracleLoggerUnavailable as exc:
            # Still in the outbox: the next log_operation or flush tries again.
            log.warning("background flush failed", extra={"cause": repr(exc)})
        except Exception as exc:
            log.warning("background flush failed", extra={"cause": repr(exc)})
            self._background_failure = exc

    def _raise_background_failure(self) -> None:
        failure, self._background_failure = self._background_failure, None
        if failure is not None:
            raise failure

    async def _post(self, path: str, items: Sequence[Message]) -> list[str]:
        # Serialised once: every attempt sends the very same bytes, hence the same ids.
        body = json.dumps([item.to_dict() for item in items]).encode()
        problem = "no attempt made"
        deadline = time.monotonic() + self._retry_for_s
        attempt = 0
        while True:
            attempt += 1
            retry_after = 0.0
            try:
                response = await self._http.post(path, content=body, headers=self._headers(body))
            except httpx.TransportError as exc:  # timeouts, refused and reset connections
                problem = repr(exc)
            else:
                if response.status_code == 202:
                    accepted: list[str] = response.json()["accepted"]
                    return accepted
                if response.status_code < 500 and response.status_code != 429:
                    raise OracleLoggerRejected(response.status_code, _json_or_text(response))
                problem = f"HTTP {response.status_code}: {response.text[:500]}"
                retry_after = _seconds(response.headers.get("Retry-After"))
            pause = max(self._backoff(attempt), retry_after)
            if time.monotonic() + pause > deadline:
                raise OracleLoggerUnavailable(
                    f"{path}: {attempt} attempts in {self._retry_for_s:.0f}s failed; {problem}"
                )
            await asyncio.sleep(pause)

    def _backoff(self, attempt: int) -> float:
        ceiling = min(self._backoff_max_s, self._backoff_base_s * 2 ** (attempt - 1))
        # Full jitter: oracles that failed together do not retry in lockstep.
        return random.uniform(0, ceiling)  # noqa: S311 (jitter, not a secret)

    def _headers(self, body: bytes) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "X-Oracle-Id": self.oracle_id}
        if self._hmac_key is not None:
            # Signed per attempt: the service refuses a signature it has already seen.
            timestamp = now_timestamp()
            headers["X-Timestamp"] = timestamp
            headers["X-Signature"] = signature(self._hmac_key, timestamp, body)
        else:
            headers["Authorization"] = f"Bearer {self._token}"
        return headers


def _json_or_text(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text


def _seconds(value: str | None) -> float:
    try:
        return min(60.0, max(0.0, float(value))) if value is not None else 0.0
    except ValueError:
        return 0.0
