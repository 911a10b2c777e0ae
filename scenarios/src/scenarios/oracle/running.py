"""An oracle running in the caller's event loop: its book, the regtest node it reads Bitcoin
from, the HTTP server with its sealed state, and the simulator; beside it the wallet holding its
users' keys, which moves their coins on that chain. Reporting to the oracle-logger can be
switched on later (legacy first, as in the seed, then fixed)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from devstack.paths import oracle_dir
from devstack.protocol import Protocol
from devstack.regtest import BitcoinNode, Regtest
from oracle_logger.client import OracleLoggerClient

from scenarios.oracle.bitcoin import ConfirmedBalances
from scenarios.oracle.committee import Committee
from scenarios.oracle.knowledge import OracleBook
from scenarios.oracle.server import OracleServer
from scenarios.oracle.simulator import OracleSimulator
from scenarios.oracle.wallet import BitcoinWallet

CONFIRMATIONS = 2
"""Blocks on top of a payment's own before the oracle counts it: more than one, so waiting for
confirmations is real, few enough to mine at every step of a scenario."""
# The committee oracle logs every kind of operation; it never pushes user state (the
# oracle-logger pulls that from the oracle's sealed /users), so its scope does not include it.
COMMITTEE_SCOPE = {"actions": ["*"], "user_state": False}


def logger_credentials(oracle_id: str, token: str) -> dict[str, str]:
    """The oracle-logger's environment for this oracle: its token and its scope."""
    return {
        "ORACLE_TOKENS": json.dumps({oracle_id: token}),
        "ORACLE_SCOPES": json.dumps({oracle_id: COMMITTEE_SCOPE}),
    }


@dataclass
class RunningOracle:
    simulator: OracleSimulator
    wallet: BitcoinWallet
    """The users' Bitcoin: their keys, and their coins moved on the chain the oracle reads."""
    server: OracleServer
    key: bytes

    @property
    def bitcoin(self) -> ConfirmedBalances:
        """What the oracle reads Bitcoin with."""
        return self.simulator.bitcoin

    @property
    def book(self) -> OracleBook:
        return self.simulator.book

    @property
    def users_url(self) -> str:
        return f"{self.server.url}/users"

    @property
    def operations_url(self) -> str:
        return f"{self.server.url}/operations"

    def start_logging(self, oracle_logger_url: str, token: str, outbox: Path | None = None) -> None:
        """From now on every operation is reported to the oracle-logger, through an outbox on
        disk (default: `.stack/oracle/<oracle id>.outbox`, wiped with the world)."""
        self.simulator.reporter = OracleLoggerClient(
            oracle_logger_url,
            self.book.oracle_id,
            token=token,
            max_delay_s=0.1,
            outbox=outbox or oracle_dir() / f"{self.book.oracle_id}.outbox",
        )


@contextlib.asynccontextmanager
async def running_oracle(
    protocol: Protocol,
    node: BitcoinNode,
    *,
    oracle_id: str = "oracle-1",
    key: bytes | None = None,
    confirmations: int = CONFIRMATIONS,
) -> AsyncIterator[RunningOracle]:
    key = key or secrets.token_bytes(32)
    regtest = Regtest(node)
    # Mature coinbase outputs first, so the blocks the oracle scans are those of its world.
    began = await asyncio.to_thread(regtest.ensure_mature_coins)
    reader = ConfirmedBalances(node, confirmations=confirmations, from_height=began)
    book = OracleBook(oracle_id)
    server = OracleServer(book, key)
    await server.start()
    simulator = OracleSimulator(book, reader, Committee(protocol))
    try:
        yield RunningOracle(simulator, BitcoinWallet(regtest, confirmations), server, key)
    finally:
        if simulator.reporter is not None:
            await simulator.reporter.aclose()
        await server.stop()
