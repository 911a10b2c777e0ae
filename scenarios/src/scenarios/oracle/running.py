"""An oracle running in the caller's event loop: its book, a fake Bitcoin node it reads, the
HTTP server with its sealed state, and the simulator; reporting to the oracle-logger can be
switched on later (legacy first, as in the seed, then fixed)."""

from __future__ import annotations

import contextlib
import json
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from devstack.paths import oracle_dir
from devstack.protocol import Protocol
from oracle_logger.client import OracleLoggerClient

from scenarios.oracle.bitcoin import FakeBitcoinNode, MempoolClient
from scenarios.oracle.book import OracleBook
from scenarios.oracle.committee import Committee
from scenarios.oracle.server import OracleServer
from scenarios.oracle.simulator import OracleSimulator

BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
# The committee oracle logs every kind of operation; it never pushes user state (the
# oracle-logger pulls that from the oracle's sealed /users), so its scope does not include it.
COMMITTEE_SCOPE = {"actions": ["*"], "user_state": False}


def logger_credentials(oracle_id: str, token: str) -> dict[str, str]:
    """The oracle-logger's environment for this oracle: its token and its scope."""
    return {
        "ORACLE_TOKENS": json.dumps({oracle_id: token}),
        "ORACLE_SCOPES": json.dumps({oracle_id: COMMITTEE_SCOPE}),
    }


def new_bitcoin_address() -> str:
    """A fresh testnet P2WPKH-shaped address (the oracle checks shape, not checksum)."""
    return "tb1q" + "".join(secrets.choice(BECH32) for _ in range(38))


@dataclass
class RunningOracle:
    simulator: OracleSimulator
    bitcoin: FakeBitcoinNode
    server: OracleServer
    key: bytes

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
    protocol: Protocol, *, oracle_id: str = "oracle-1", key: bytes | None = None
) -> AsyncIterator[RunningOracle]:
    key = key or secrets.token_bytes(32)
    bitcoin = FakeBitcoinNode()
    await bitcoin.start()
    book = OracleBook(oracle_id)
    server = OracleServer(book, key)
    await server.start()
    reader = MempoolClient(bitcoin.url)
    simulator = OracleSimulator(book, reader, Committee(protocol))
    try:
        yield RunningOracle(simulator, bitcoin, server, key)
    finally:
        if simulator.reporter is not None:
            await simulator.reporter.aclose()
        await reader.aclose()
        await server.stop()
        await bitcoin.stop()
