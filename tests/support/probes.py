"""Asking a running service's probes, as an orchestrator would."""

from __future__ import annotations

import asyncio

from devstack import services


async def answers(name: str, prefix: str, path: str, status: int, says: str) -> bool:
    """`path` of service `name` answers `status` with a body containing `says`."""
    code, body = await asyncio.to_thread(services.probe, name, path, prefix=prefix)
    return code == status and says in body
