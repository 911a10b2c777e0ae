"""A small aiohttp server on loopback, started and stopped with the caller's event loop."""

from __future__ import annotations

from types import TracebackType

from aiohttp import web


class LocalServer:
    def __init__(self, app: web.Application) -> None:
        self._runner = web.AppRunner(app, access_log=None)
        self.url = ""

    async def start(self, port: int = 0) -> str:
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", port).start()
        bound = self._runner.addresses[0][1]  # the port the OS chose for port 0
        self.url = f"http://127.0.0.1:{bound}"
        return self.url

    async def stop(self) -> None:
        await self._runner.cleanup()

    async def __aenter__(self) -> LocalServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()
