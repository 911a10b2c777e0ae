"""The oracle's own HTTP: `GET /users` (its view of every user) and `GET /operations` (its
journal), both sealed like the reference oracle's payloads; the oracle-logger's pull mode and
the reconciliation read them."""

from __future__ import annotations

from aiohttp import web
from reservesync.envelope import seal

from scenarios.oracle.knowledge import OracleBook
from scenarios.oracle.local_server import LocalServer


class OracleServer(LocalServer):
    def __init__(self, book: OracleBook, key: bytes) -> None:
        self._book = book
        self._key = key
        app = web.Application()
        app.router.add_get("/users", self._users)
        app.router.add_get("/operations", self._operations)
        app.router.add_get("/healthz", self._healthz)
        super().__init__(app)

    async def _users(self, _request: web.Request) -> web.Response:
        users = [state.to_dict() for state in self._book.states()]
        return web.json_response(seal({"users": users}, self._key))

    async def _operations(self, _request: web.Request) -> web.Response:
        operations = [operation.to_dict() for operation in self._book.journal]
        return web.json_response(seal({"operations": operations}, self._key))

    async def _healthz(self, _request: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "users": len(self._book.users)})
