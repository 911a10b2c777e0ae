"""What the routes depend on, as `Annotated[..., Depends(...)]` aliases: the runtime, the
validated query parameters, the aggregates snapshot and the owner proof.

Every dependency is `async def` although none awaits: FastAPI runs a plain `def` dependency in
a worker thread, a hop per dependency per request that costs more than the work itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Query, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from pydantic import BeforeValidator
from reservesync import addresses
from reservesync.crypto import FieldCipher
from reservesync.http_errors import ApiError

from realtime_api.config import Settings
from realtime_api.domain.owner import CHALLENGE_MAX_LENGTH, SIGNATURE_PATTERN, OwnerProofs
from realtime_api.errors import parameter_error
from realtime_api.storage.database import Reader
from realtime_api.storage.snapshot import Aggregates, Reserves, SnapshotKeeper

MAX_LIMIT = 200
DEFAULT_LIMIT = 50
MAX_OFFSET = 100_000
"""Offsets cost a scan of the rows they skip; deeper than this is refused, not slow."""
_ADDRESS_DOC = (
    "EVM address: 0x and 40 hex digits, lowercase, uppercase or EIP-55 checksummed "
    "(a mixed-case address with a wrong checksum is refused)"
)


@dataclass
class Runtime:
    """Everything a request needs; the reader and the keeper exist while the lifespan runs."""

    settings: Settings
    cipher: FieldCipher
    owner_proofs: OwnerProofs
    reader: Reader | None = None
    keeper: SnapshotKeeper | None = None


async def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def get_reader(request: Request) -> Reader:
    runtime: Runtime = request.app.state.runtime
    if runtime.reader is None:
        raise ApiError(
            503, "not_ready", "the database pool is not open", headers={"Retry-After": "1"}
        )
    return runtime.reader


ReaderDep = Annotated[Reader, Depends(get_reader)]


def _not_ready(part: str) -> ApiError:
    return ApiError(
        503,
        "snapshot_not_ready",
        f"the {part} snapshot is being built; retry shortly",
        headers={"Retry-After": "2"},
    )


def aggregates_of(runtime: Runtime) -> Aggregates:
    """The burn, dispute and pool totals, or 503 while the first are being built."""
    if runtime.keeper is None or runtime.keeper.aggregates.current is None:
        raise _not_ready("aggregates")
    return runtime.keeper.aggregates.current


async def current_aggregates(request: Request) -> Aggregates:
    return aggregates_of(request.app.state.runtime)


AggregatesDep = Annotated[Aggregates, Depends(current_aggregates)]


async def current_reserves(request: Request) -> Reserves:
    """The reserves Merkle tree, or 503 while the first is being built."""
    runtime: Runtime = request.app.state.runtime
    if runtime.keeper is None or runtime.keeper.reserves.current is None:
        raise _not_ready("reserves")
    return runtime.keeper.reserves.current


ReservesDep = Annotated[Reserves, Depends(current_reserves)]


def _canonical(address: str) -> str:
    try:
        return addresses.canonical(address)
    except addresses.InvalidAddress as exc:
        raise parameter_error("address", str(exc)) from exc


_AddressParam = Query(
    min_length=42,
    max_length=42,
    pattern=addresses.PATTERN,
    description=_ADDRESS_DOC,
    # A named format lets clients (and the fuzzer) know the checksum rule beyond the pattern.
    json_schema_extra={"format": "evm-address"},
)


async def required_address(address: Annotated[str, _AddressParam]) -> str:
    return _canonical(address)


async def optional_address(address: Annotated[str | None, _AddressParam] = None) -> str | None:
    return None if address is None else _canonical(address)


AddressDep = Annotated[str, Depends(required_address)]
OptionalAddressDep = Annotated[str | None, Depends(optional_address)]


def _spelled_as_integer(value: object) -> object:
    """Pydantic's lax mode reads "0.0" as the integer 0; the OpenAPI document says integer,
    so a query string must spell one."""
    if isinstance(value, str) and not _INTEGER.fullmatch(value):
        raise ValueError("must be an integer written in digits")
    return value


_INTEGER = re.compile(r"-?[0-9]+")
QueryInteger = Annotated[int, BeforeValidator(_spelled_as_integer)]


@dataclass(frozen=True)
class PageParams:
    limit: int
    offset: int


async def page_params(
    limit: Annotated[QueryInteger, Query(ge=1, le=MAX_LIMIT, description="items per page")] = (
        DEFAULT_LIMIT
    ),
    offset: Annotated[QueryInteger, Query(ge=0, le=MAX_OFFSET, description="items to skip")] = 0,
) -> PageParams:
    return PageParams(limit, offset)


PageDep = Annotated[PageParams, Depends(page_params)]


@dataclass(frozen=True)
class OwnerProof:
    challenge: str
    signature: str


async def owner_proof(
    x_owner_challenge: Annotated[
        str | None,
        Header(max_length=CHALLENGE_MAX_LENGTH, description="a challenge from /owner-challenge"),
    ] = None,
    x_owner_signature: Annotated[
        str | None,
        Header(
            pattern=SIGNATURE_PATTERN,
            description="the address's EIP-191 signature of the challenge (0x + 130 hex)",
        ),
    ] = None,
) -> OwnerProof | None:
    if x_owner_challenge is None and x_owner_signature is None:
        return None
    if x_owner_challenge is None or x_owner_signature is None:
        missing = "X-Owner-Challenge" if x_owner_challenge is None else "X-Owner-Signature"
        raise parameter_error(missing, "an owner proof needs both headers", "header")
    return OwnerProof(x_owner_challenge, x_owner_signature)


OwnerProofDep = Annotated[OwnerProof | None, Depends(owner_proof)]


def _query_names(dependant: Dependant) -> frozenset[str]:
    names = frozenset(param.alias for param in dependant.query_params)
    return names.union(*(_query_names(sub) for sub in dependant.dependencies))


_DECLARED: dict[int, frozenset[str]] = {}
"""Query parameter names per route (by identity: routes live as long as the app)."""


async def refuse_unknown_parameters(request: Request) -> None:
    """A misspelt parameter (`adress=`) silently ignored would answer a different question
    than the one asked, so a parameter the route does not declare, or one given twice, is an
    error."""
    route = request.scope.get("route")
    allowed: frozenset[str] = frozenset()
    if isinstance(route, APIRoute):
        if id(route) not in _DECLARED:
            _DECLARED[id(route)] = _query_names(route.dependant)
        allowed = _DECLARED[id(route)]
    seen: set[str] = set()
    for name, _ in request.query_params.multi_items():
        if name not in allowed:
            known = ", ".join(sorted(allowed)) or "none"
            raise parameter_error(name, f"unknown parameter (this endpoint takes: {known})")
        if name in seen:
            raise parameter_error(name, "given more than once")
        seen.add(name)
