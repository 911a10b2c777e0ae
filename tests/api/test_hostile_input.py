"""SQL injection and oversized values in every parameter of every operation (taken from the
served OpenAPI document, so a new parameter is covered without editing this file): each is
refused with a 4xx in the error shape, and every table is byte for byte what it was."""

from __future__ import annotations

import asyncio
import contextlib
import json
import select
import socket
from typing import Any

import httpx

from tests.support.databases import FreshDatabase, table_checksums
from tests.support.world import ALICE, World, address

alice = address(ALICE)
INJECTIONS = [
    "' OR '1'='1",
    "1 OR 1=1",
    "'; DROP TABLE users; --",
    "1; DELETE FROM transactions",
    f"{alice}' OR '1'='1",
    f"{alice}'; DROP TABLE transactions; --",
    # As long as an address: only the shape check stands between it and the SET LOCAL.
    "0x" + "'" * 40,
    "0x'||pg_sleep(10)||'" + "0" * 22,
    "*",
    "0x" + "0" * 39 + "%",
    "$1",
    "\\x27",
    "0x" + "0" * 40 + "\x00",
    "０x" + "0" * 40,  # a full-width zero
    "0x" + "٠" * 40,  # Arabic-Indic digits, which int() and \d accept
    "NaN",
    "-1",
    "1e3",
    "9" * 40,
]
OVERSIZED = ["a" * 10_000, "0x" + "f" * 50_000]
RAW_QUERIES = ["address=%ff%fe%fd", "address=%00", "address=%", "address=0x%zz", "=&&=="]


def operations(document: dict[str, Any]) -> list[tuple[str, str, list[dict[str, Any]]]]:
    return [
        (method.upper(), path, operation.get("parameters", []))
        for path, item in document["paths"].items()
        for method, operation in item.items()
    ]


def valid_params(parameters: list[dict[str, Any]]) -> dict[str, str]:
    return {p["name"]: alice for p in parameters if p["in"] == "query" and p.get("required")}


def assert_refused(response: httpx.Response, what: str) -> None:
    assert 400 <= response.status_code < 500, (what, response.status_code, response.text)
    body = response.json()
    assert set(body) == {"error", "message", "errors", "request_id"}, what


async def huge_request_line_status(api: str) -> int:
    """A 1 MB request line, far past what the HTTP server reads in one (no client library
    builds such a URL, so it goes over a plain socket): the status it answers with."""
    host, port = api.removeprefix("http://").split(":")
    return await asyncio.to_thread(_status_of_huge_request_line, host, int(port))


def _status_of_huge_request_line(host: str, port: int) -> int:
    """Blocking, on purpose: the server answers 400 and closes with most of the line unread,
    so the kernel resets the connection while the line is still being sent. An asyncio
    transport drops what it had received when its write fails; a plain socket still reads the
    answer that arrived before the reset."""
    line = f"GET /api/realtime/balances?address=0x{'f' * 1_000_000} HTTP/1.1\r\n"
    request = f"{line}Host: {host}\r\nConnection: close\r\n\r\n".encode()
    answer = b""
    with socket.create_connection((host, port), timeout=30) as connection:
        with contextlib.suppress(ConnectionResetError, BrokenPipeError):
            connection.sendall(request)
        while b"\r\n" not in answer:
            received = connection.recv(4096)
            if not received:
                break
            answer += received
    assert b"\r\n" in answer, f"no status line in the answer: {answer[:200]!r}"
    return int(answer.split()[1])


def _answer_to_a_head_in_pieces(host: str, port: int, target: str) -> bytes:
    """The whole answer to a GET whose head is written in two parts, the first alone for a
    moment, so that the server reads the head incomplete (the case uvicorn used to refuse)."""
    head = f"GET {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode()
    half = len(head) // 2
    with socket.create_connection((host, port), timeout=30) as connection:
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        connection.sendall(head[:half])
        # Not a wait for a result: a short pause that lets the server read the first part on
        # its own. A refusal (the failure this guards against) is read below either way.
        readable, _, _ = select.select([connection], [], [], 0.3)
        if not readable:
            connection.sendall(head[half:])
        answer = b""
        while received := connection.recv(65536):
            answer += received
    return answer


async def test_a_long_head_is_answered_by_the_api_however_it_arrives(api: str) -> None:
    """A 50 KB value in the URL, its head read in two parts: the API's own refusal in its
    error shape, as when it arrives in one read, not a reset connection."""
    host, port = api.removeprefix("http://").split(":")
    target = f"/api/realtime/balances?address=0x{'f' * 50_000}"
    answer = await asyncio.to_thread(_answer_to_a_head_in_pieces, host, int(port), target)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 4"), answer[:200]
    assert set(json.loads(body)) == {"error", "message", "errors", "request_id"}, body[:200]


def header_safe(value: str) -> bool:
    return value.isascii() and all(c.isprintable() for c in value)


async def test_hostile_values_are_refused_and_change_nothing(
    api: str, world_database: tuple[FreshDatabase, World]
) -> None:
    before = await table_checksums(world_database[0].migrator_url)
    sent = 0
    async with httpx.AsyncClient(base_url=api, timeout=30) as http:
        document = (await http.get("/openapi.json")).json()
        for method, path, parameters in operations(document):
            assert parameters or path.endswith("proof-of-reserves"), path
            for parameter in parameters:
                for value in INJECTIONS + OVERSIZED:
                    what = f"{method} {path} {parameter['name']}={value[:40]!r}"
                    if parameter["in"] == "query":
                        params = {**valid_params(parameters), parameter["name"]: value}
                        response = await http.request(method, path, params=params)
                    else:
                        if not header_safe(value):
                            continue  # no HTTP client sends it; the server would refuse it
                        headers = {
                            "X-Owner-Challenge": "x",
                            "X-Owner-Signature": "0x" + "a" * 130,
                            parameter["name"]: value,
                        }
                        response = await http.request(
                            method, path, params=valid_params(parameters), headers=headers
                        )
                    assert_refused(response, what)
                    sent += 1
            for raw in RAW_QUERIES:
                response = await http.request(method, f"{path}?{raw}")
                assert_refused(response, f"{method} {path}?{raw}")
                sent += 1
            # An unknown parameter carrying an injection is refused like any unknown one.
            response = await http.request(method, path, params={"id": "1; DROP TABLE users"})
            assert_refused(response, f"{method} {path} unknown parameter")
            assert response.json()["errors"][0]["name"] in ("id", "address")
        assert await huge_request_line_status(api) == 400
        assert (await http.get("/healthz")).status_code == 200
    assert sent > 300
    assert await table_checksums(world_database[0].migrator_url) == before
