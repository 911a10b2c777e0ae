"""A small client for oracles: batches operations and delivers them at least once; the
service's idempotency (on `operation_id`) turns that into exactly once on the topic.

    async with OracleLoggerClient(url, "oracle-1", token="...") as client:
        await client.log_operation(op)      # sent when the batch is full or after max_delay_s
        await client.flush()                # sends what is pending, returns the accepted ids

A batch is retried with jittered exponential backoff on 5xx, 429, timeouts and connection
errors, always with the same body (hence the same operation ids): a timeout after the server
accepted is then answered from its memory, not published twice. Other 4xx answers are the
caller's to fix and raise `OracleLoggerRejected` at once. A batch that exhausts its attempts
stays pending (the next flush tries it again) and raises `OracleLoggerUnavailable`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from collections.abc import Sequence
from types import TracebackType
from typing import Any

import httpx
from reservesync.messages import Message, OracleOperation, OracleUserState

from oracle_logger.signing import now_timestamp, signature

log = logging.getLogger(__name__)


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
        max_attempts: int = 8,
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
        self._max_attempts = max_attempts
        self._backoff_base_s = backoff_base_s
        self._backoff_max_s = backoff_max_s
        self._http = httpx.AsyncClient(
            base_url=base_url, timeout=httpx.Timeout(timeout_s), transport=transport
        )
        self._pending: list[OracleOperation] = []
        # One batch on the wire at a time keeps each user's operations in order.
        self._lock = asyncio.Lock()
        self._timer: asyncio.Task[None] | None = None
        self._background_failure: Exception | None = None

    async def __aenter__(self) -> OracleLoggerClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            if exc is None:
                await self.flush()
        finally:
            await self.aclose()

    async def log_operation(self, operation: OracleOperation) -> None:
        self._raise_background_failure()
        if operation.oracle_id != self.oracle_id:
            raise ValueError(
                f"operation names {operation.oracle_id!r}, client is {self.oracle_id!r}"
            )
        self._pending.append(operation)
        if len(self._pending) >= self._batch_size:
            await self.flush()
        elif self._timer is None:
            self._timer = asyncio.create_task(self._flush_later())

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
            while self._pending:
                batch = self._pending[: self._batch_size]
                del self._pending[: len(batch)]
                try:
                    accepted += await self._post("/v1/operations", batch)
                except OracleLoggerUnavailable:
                    self._pending[0:0] = batch  # kept, in order, for the next flush
                    raise
        return accepted

    async def send_states(self, states: Sequence[OracleUserState]) -> list[str]:
        """Publish user states at once (state is the latest truth: nothing to batch up)."""
        return await self._post("/v1/state", states)

    async def aclose(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._timer
            self._timer = None
        await self._http.aclose()

    async def _flush_later(self) -> None:
        await asyncio.sleep(self._max_delay_s)
        self._timer = None  # from here on an explicit flush must not cancel this one
        try:
            await self.flush()
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
        for attempt in range(1, self._max_attempts + 1):
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
            if attempt < self._max_attempts:
                await asyncio.sleep(max(self._backoff(attempt), retry_after))
        raise OracleLoggerUnavailable(f"{path}: {self._max_attempts} attempts failed; {problem}")

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
