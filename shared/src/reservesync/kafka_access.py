"""The broker's access control over the admin protocol: ACL bindings and SCRAM users.

aiokafka's admin client has no public calls for these, so the requests are sent through its
connection as the protocol defines them (CreateAcls / DescribeAcls / DeleteAcls v1, and
AlterUserScramCredentials v0, which aiokafka lacks and is declared here).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import for_code
from aiokafka.protocol.admin import CreateAclsRequest, DeleteAclsRequest, DescribeAclsRequest
from aiokafka.protocol.api import Request, RequestStruct, Response
from aiokafka.protocol.types import (
    CompactArray,
    CompactBytes,
    CompactString,
    Int8,
    Int16,
    Int32,
    Schema,
    TaggedFields,
)


class ResourceType(IntEnum):
    ANY = 1
    TOPIC = 2
    GROUP = 3
    CLUSTER = 4
    TRANSACTIONAL_ID = 5
    DELEGATION_TOKEN = 6
    USER = 7


class PatternType(IntEnum):
    ANY = 1
    LITERAL = 3
    PREFIXED = 4


class Operation(IntEnum):
    ANY = 1
    ALL = 2
    READ = 3
    WRITE = 4
    CREATE = 5
    DELETE = 6
    ALTER = 7
    DESCRIBE = 8
    CLUSTER_ACTION = 9
    DESCRIBE_CONFIGS = 10
    ALTER_CONFIGS = 11
    IDEMPOTENT_WRITE = 12
    CREATE_TOKENS = 13
    DESCRIBE_TOKENS = 14
    TWO_PHASE_COMMIT = 15


_ALLOW = 3
_ANY_PERMISSION = 1
_SCRAM_MECHANISMS = {"SCRAM-SHA-256": (1, "sha256"), "SCRAM-SHA-512": (2, "sha512")}
_SCRAM_ITERATIONS = 8192


@dataclass(frozen=True, order=True)
class Binding:
    """One ALLOW rule: `principal` may do `operation` on the named resource(s)."""

    principal: str  # the user name, without "User:"
    resource: ResourceType
    name: str
    pattern: PatternType
    operation: Operation
    host: str = "*"

    def __str__(self) -> str:
        kind = "prefix" if self.pattern is PatternType.PREFIXED else "name"
        where = "" if self.host == "*" else f" from {self.host}"
        return (
            f"{self.principal}: {self.operation.name} on {self.resource.name} {kind} "
            f"{self.name!r}{where}"
        )


def _raise_for(code: int, message: str | None, what: str) -> None:
    if code:
        raise for_code(code)(f"{what}: {message or ''}")


async def _send(admin: AIOKafkaAdminClient, request: Request[Any]) -> Any:
    # Any broker answers these; in KRaft it forwards writes to the controller quorum.
    # (a private call of the admin client: it has no public one for these requests)
    return await admin._send_request(request)


async def granted(admin: AIOKafkaAdminClient, principal: str) -> set[Binding]:
    """The ALLOW bindings the broker holds for `principal`."""
    response = await _send(
        admin,
        DescribeAclsRequest(
            ResourceType.ANY,
            None,  # null: any name
            PatternType.ANY,
            f"User:{principal}",
            None,  # null: any host
            Operation.ANY,
            _ANY_PERMISSION,
        ),
    )
    _raise_for(response.error_code, response.error_message, f"describe ACLs of {principal}")
    found: set[Binding] = set()
    for resource_type, name, pattern, acls in response.resources:
        for _, host, operation, permission in acls:
            if permission != _ALLOW:
                continue  # DENY rules only take rights away: they are left alone
            kind, shape = ResourceType(resource_type), PatternType(pattern)
            found.add(Binding(principal, kind, name, shape, Operation(operation), host))
    return found


async def grant(admin: AIOKafkaAdminClient, binding: Binding) -> None:
    """Create one binding (creating one that exists changes nothing)."""
    response = await _send(
        admin,
        CreateAclsRequest(
            binding.resource,
            binding.name,
            binding.pattern,
            f"User:{binding.principal}",
            binding.host,
            binding.operation,
            _ALLOW,
        ),
    )
    for code, message in response.creation_responses:
        _raise_for(code, message, f"create ACL {binding}")


async def revoke(admin: AIOKafkaAdminClient, binding: Binding) -> None:
    response = await _send(
        admin,
        DeleteAclsRequest(
            binding.resource,
            binding.name,
            binding.pattern,
            f"User:{binding.principal}",
            binding.host,
            binding.operation,
            _ALLOW,
        ),
    )
    for code, message, _ in response.filter_responses:
        _raise_for(code, message, f"delete ACL {binding}")


class _AlterUserScramCredentialsResponse(Response):  # type: ignore[misc]
    API_KEY = 51
    API_VERSION = 0
    SCHEMA = Schema(
        ("throttle_time_ms", Int32),
        (
            "results",
            CompactArray(
                ("user", CompactString("utf-8")),
                ("error_code", Int16),
                ("error_message", CompactString("utf-8")),
                ("tags", TaggedFields),
            ),
        ),
        ("tags", TaggedFields),
    )


class _AlterUserScramCredentialsRequestV0(RequestStruct):  # type: ignore[misc]
    API_KEY = 51
    API_VERSION = 0
    FLEXIBLE_VERSION = True
    RESPONSE_TYPE = _AlterUserScramCredentialsResponse
    SCHEMA = Schema(
        (
            "deletions",
            CompactArray(
                ("name", CompactString("utf-8")), ("mechanism", Int8), ("tags", TaggedFields)
            ),
        ),
        (
            "upsertions",
            CompactArray(
                ("name", CompactString("utf-8")),
                ("mechanism", Int8),
                ("iterations", Int32),
                ("salt", CompactBytes),
                ("salted_password", CompactBytes),
                ("tags", TaggedFields),
            ),
        ),
        ("tags", TaggedFields),
    )


class _AlterUserScramCredentials(Request[_AlterUserScramCredentialsRequestV0]):  # type: ignore[misc]
    API_KEY = 51

    def __init__(self, upsertions: list[tuple[str, int, int, bytes, bytes]]) -> None:
        self._upsertions = upsertions

    def build(
        self, request_struct_class: type[_AlterUserScramCredentialsRequestV0]
    ) -> _AlterUserScramCredentialsRequestV0:
        rows = [(*row, dict[int, bytes]()) for row in self._upsertions]
        return request_struct_class([], rows, {})


async def set_passwords(
    admin: AIOKafkaAdminClient, passwords: Mapping[str, str], mechanism: str = "SCRAM-SHA-512"
) -> None:
    """Create or reset the SCRAM credential of each user (the password never leaves this
    process: the broker receives a salted hash, RFC 5802's SaltedPassword)."""
    code, digest = _SCRAM_MECHANISMS[mechanism]
    rows: list[tuple[str, int, int, bytes, bytes]] = []
    for user, password in sorted(passwords.items()):
        salt = secrets.token_bytes(32)
        salted = hashlib.pbkdf2_hmac(digest, password.encode(), salt, _SCRAM_ITERATIONS)
        rows.append((user, code, _SCRAM_ITERATIONS, salt, salted))
    if not rows:
        return
    response = await _send(admin, _AlterUserScramCredentials(rows))
    for user, error, message, _ in response.results:
        _raise_for(error, message, f"set the SCRAM credential of {user}")


def differences(
    wanted: Iterable[Binding], held: Iterable[Binding]
) -> tuple[list[Binding], list[Binding]]:
    """(bindings to create, bindings to delete) to turn `held` into `wanted`."""
    want, have = set(wanted), set(held)
    return sorted(want - have), sorted(have - want)
