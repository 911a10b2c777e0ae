"""Publishes the contract registry (`registry.contract/v1`) the health and db-writer read: all
of it at start, and again for a contract whenever its code appears or disappears."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

from reservesync.contracts import Deployment, SystemContract
from reservesync.messages import RegisteredContract

from chain_listener.node import Node
from chain_listener.publisher import RangePublisher

log = logging.getLogger(__name__)


class RegistryWatcher:
    def __init__(
        self,
        node: Node,
        publisher: RangePublisher,
        chain_id: int,
        deployment: Deployment,
        interval_s: float,
    ) -> None:
        self.node = node
        self.publisher = publisher
        self.chain_id = chain_id
        self.deployment = deployment
        self.interval_s = interval_s
        self.published: dict[SystemContract, bool] = {}
        self.next_check = 0.0

    async def publish_all(self) -> None:
        await self._check(everything=True)

    async def check_if_due(self) -> None:
        if time.monotonic() >= self.next_check:
            await self.check_now()

    async def check_now(self) -> None:
        await self._check(everything=False)

    async def _check(self, *, everything: bool) -> None:
        self.next_check = time.monotonic() + self.interval_s
        names = list(self.deployment)
        present = await self.node.code_present([self.deployment[n].address for n in names])
        changed = [
            (name, has_code)
            for name, has_code in zip(names, present, strict=True)
            if everything or self.published.get(name) != has_code
        ]
        if not changed:
            return
        now = datetime.now(UTC)
        await self.publisher.publish_registry(
            [
                RegisteredContract(
                    name=name,
                    address=self.deployment[name].address,
                    chain_id=self.chain_id,
                    deployed_block=self.deployment[name].deployed_block,
                    code_present=has_code,
                    observed_at=now,
                )
                for name, has_code in changed
            ]
        )
        self.published.update(changed)
        if not everything:
            log.warning(
                "contract code presence changed",
                extra={"contracts": {name.value: has_code for name, has_code in changed}},
            )
