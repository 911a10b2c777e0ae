"""The verifier's reader of Bitcoin (`reservesync.reserves_evidence.BitcoinReader`) against the
stack's real btcd in regtest: a balance at a height counts the outputs paid by then and not
those spent by then, from blocks alone; a height the node has not reached is an error."""

from __future__ import annotations

import pytest
from devstack.regtest import FEE_SATS, OwnKey, Regtest
from reservesync.bitcoin_address import script_for
from reservesync.messages import Network
from reservesync.reserves_evidence import BitcoinReader, EvidenceError

from tests.support.stack import Endpoints


def test_a_balance_at_a_height_follows_payments_and_spends(endpoints: Endpoints) -> None:
    regtest = Regtest(endpoints.bitcoin)
    own, other = OwnKey(), OwnKey()
    start = regtest.height() + 1
    paid, coins = regtest.send({own.address: 50_000})
    regtest.mine(1)
    paid_at = regtest.block_of(paid)
    spent = regtest.spend(coins[own.address], own, {other.address: 20_000})
    regtest.mine(1)
    spent_at = regtest.block_of(spent)

    bitcoin = endpoints.bitcoin
    reader = BitcoinReader(bitcoin.rpc_url, auth=(bitcoin.rpc_user, bitcoin.rpc_password))
    scripts = {script_for(a, Network.REGTEST): a for a in (own.address, other.address)}
    before = reader.balances(scripts, paid_at - 1, from_height=start)
    assert before == {own.address: 0, other.address: 0}
    assert reader.balances(scripts, paid_at, from_height=start) == {
        own.address: 50_000,
        other.address: 0,
    }
    assert reader.balances(scripts, spent_at, from_height=start) == {
        own.address: 50_000 - 20_000 - FEE_SATS,
        other.address: 20_000,
    }
    with pytest.raises(EvidenceError, match="has no block"):
        reader.balances(scripts, regtest.height() + 1_000, from_height=start)
