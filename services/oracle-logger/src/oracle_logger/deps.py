"""What the routes depend on, as `Annotated[..., Depends(...)]` aliases.

Order matters and FastAPI keeps it: the body is read (and its size limited) before anything
parses it, and the caller is authenticated before its items are looked at. FastAPI resolves
each dependency once per request, so the body read here is the body the route sees.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Request
from reservesync.http_errors import ApiError

from oracle_logger.auth import Authenticator
from oracle_logger.config import Settings
from oracle_logger.publishing import Publisher
from oracle_logger.scopes import OracleScope
from oracle_logger.shared_state import PostgresState
from oracle_logger.state_pull import StatePuller


@dataclass
class Runtime:
    """Everything a request needs; the publisher and the shared state exist while the app's
    lifespan runs."""

    settings: Settings
    authenticator: Authenticator
    publisher: Publisher | None = None
    puller: StatePuller | None = None
    state: PostgresState | None = None


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def get_settings(runtime: RuntimeDep) -> Settings:
    return runtime.settings


SettingsDep = Annotated[Settings, Depends(get_settings)]


def get_publisher(runtime: RuntimeDep) -> Publisher:
    if runtime.publisher is None:
        raise ApiError(
            503, "not_ready", "the Kafka producer is not running", headers={"Retry-After": "1"}
        )
    return runtime.publisher


PublisherDep = Annotated[Publisher, Depends(get_publisher)]


async def read_body(request: Request, settings: SettingsDep) -> bytes:
    """The raw body, refused with 413 past the limit: by its declared length before reading a
    byte, and by counting while reading (a chunked or lying client declares nothing useful)."""
    limit = settings.oracle_max_body_bytes
    too_large = ApiError(413, "body_too_large", f"the body exceeds the limit of {limit} bytes")
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise ApiError(400, "bad_content_length", "Content-Length must be a number")
        if int(declared) > limit:
            raise too_large
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


BodyDep = Annotated[bytes, Depends(read_body)]


async def authenticated_oracle(
    body: BodyDep,
    runtime: RuntimeDep,
    *,
    x_oracle_id: Annotated[str | None, Header()] = None,
    authorization: Annotated[str | None, Header()] = None,
    x_timestamp: Annotated[str | None, Header()] = None,
    x_signature: Annotated[str | None, Header()] = None,
) -> str:
    return await runtime.authenticator.authenticate(
        oracle_id=x_oracle_id,
        authorization=authorization,
        timestamp=x_timestamp,
        signature_header=x_signature,
        body=body,
    )


OracleDep = Annotated[str, Depends(authenticated_oracle)]


def scope_of(oracle_id: OracleDep, settings: SettingsDep) -> OracleScope:
    return settings.scope_of(oracle_id)


ScopeDep = Annotated[OracleScope, Depends(scope_of)]
