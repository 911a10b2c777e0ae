"""The few JSON-RPC reads health makes of the chain itself (head, headers, logs)."""

from __future__ import annotations

import asyncio
import json
import urllib.request
from dataclasses import dataclass
from typing import Any

from reservesync.event_decoding import NodeLog


class ChainUnreachable(RuntimeError):
    pass


@dataclass(frozen=True, slots=True)
class Header:
    number: int
    hash: str
    timestamp: int


class ChainReader:
    def __init__(self, url: str, timeout_s: float = 15.0) -> None:
        self.url = url
        self.timeout_s = timeout_s

    async def head(self) -> int:
        return int(await self._call("eth_blockNumber", []), 16)

    async def headers(self, numbers: list[int]) -> dict[int, Header]:
        answers = await self._batch([("eth_getBlockByNumber", [hex(n), False]) for n in numbers])
        found = {}
        for answer in answers:
            if answer:
                header = Header(
                    int(answer["number"], 16),
                    str(answer["hash"]).lower(),
                    int(answer["timestamp"], 16),
                )
                found[header.number] = header
        return found

    async def logs(self, first: int, last: int, addresses: list[str]) -> list[NodeLog]:
        answer = await self._call(
            "eth_getLogs", [{"fromBlock": hex(first), "toBlock": hex(last), "address": addresses}]
        )
        return [NodeLog.parse(entry) for entry in answer if not entry.get("removed")]

    async def calls(self, calls: list[tuple[str, str]], block: int) -> list[str]:
        """`eth_call` of (address, data) pairs at `block`, the answers' hex in order."""
        answers = await self._batch(
            [("eth_call", [{"to": to, "data": data}, hex(block)]) for to, data in calls]
        )
        return [str(a) for a in answers]

    async def _call(self, method: str, params: list[Any]) -> Any:
        (answer,) = await self._batch([(method, params)])
        return answer

    async def _batch(self, calls: list[tuple[str, list[Any]]]) -> list[Any]:
        if not calls:
            return []
        body = [
            {"jsonrpc": "2.0", "id": i, "method": m, "params": p} for i, (m, p) in enumerate(calls)
        ]
        try:
            answers = await asyncio.to_thread(self._post, body)
        except (OSError, ValueError) as exc:
            raise ChainUnreachable(f"{self.url}: {exc}") from exc
        by_id = {a.get("id"): a for a in answers}
        results = []
        for i in range(len(calls)):
            answer = by_id.get(i, {})
            if "error" in answer or "result" not in answer:
                raise ChainUnreachable(f"{calls[i][0]}: {answer.get('error', 'no answer')}")
            results.append(answer["result"])
        return results

    def _post(self, body: list[dict[str, Any]]) -> list[dict[str, Any]]:
        request = urllib.request.Request(  # noqa: S310 - the configured chain's own URL
            self.url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=self.timeout_s) as response:  # noqa: S310
            answers: list[dict[str, Any]] = json.loads(response.read())
        return answers
