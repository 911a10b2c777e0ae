"""Fixtures of the bitcoin-listener tests: the stack's real regtest node with a wallet that
signs real transactions."""

from __future__ import annotations

import pytest
from devstack import procs
from devstack.regtest import Regtest

from tests.support.stack import Endpoints


@pytest.fixture(scope="session")
def regtest(endpoints: Endpoints) -> Regtest:
    chain = Regtest(endpoints.bitcoin)
    chain.height()  # fails here, with the reason, when the node does not answer
    return chain


@pytest.fixture
def probe_port() -> int:
    return procs.free_port(0)
