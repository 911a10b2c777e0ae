"""The oracle reads Bitcoin from the node, and only what is confirmed: a payment made behind
the simulator's back counts, once its block is deep enough, and not before."""

from __future__ import annotations

import secrets

from devstack.protocol import Protocol
from reservesync.messages import OracleAction
from scenarios.oracle.running import running_oracle

from tests.support.stack import Endpoints


async def test_a_payment_counts_once_confirmed(endpoints: Endpoints, protocol: Protocol) -> None:
    oracle_id = f"oracle-confirm-{secrets.token_hex(3)}"
    async with running_oracle(protocol, endpoints.bitcoin, oracle_id=oracle_id) as oracle:
        confirmations = oracle.bitcoin.confirmations
        assert confirmations >= 2, "one block short of confirmed must be a block"
        user, address = Protocol.new_user(), oracle.wallet.new_address()
        protocol.deposit_fees(user, 10**16)
        await oracle.simulator.register(user, [(address, True)])
        # Paid by the chain's own wallet, not through the simulator's: only the node knows.
        regtest = oracle.wallet.regtest
        regtest.send({address: 30_000})
        regtest.mine(confirmations - 1)
        assert await oracle.simulator.cycle() == []
        assert oracle.simulator.committee.synced_sats(user) == 0

        regtest.mine(1)
        done = await oracle.simulator.cycle()
        assert [(op.action, op.amount_sats) for op in done] == [(OracleAction.MINT, 30_000)]
        assert oracle.simulator.committee.synced_sats(user) == 30_000
