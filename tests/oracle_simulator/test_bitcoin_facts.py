"""The seed world's Bitcoin is a fact of the regtest chain, not of the simulator's memory: the
real bitcoin-listener, following the node on its own, publishes for every monitored address
exactly what the oracle synced on the EVM chain, and for the spare addresses their coins."""

from __future__ import annotations

from devstack import procs
from devstack.protocol import Protocol
from scenarios.oracle.running import RunningOracle
from scenarios.oracle.seed import SPARE_SATS, SeedWorld

from tests.support.bitcoin_listening import (
    listener_env,
    publish_state,
    running_listener,
    until_balance,
)
from tests.support.stack import Endpoints


async def test_each_address_holds_on_chain_what_the_oracle_synced(
    endpoints: Endpoints, seeded: tuple[RunningOracle, SeedWorld], protocol: Protocol
) -> None:
    oracle, world = seeded
    bootstrap = endpoints.kafka_bootstrap_servers
    synced = {user: oracle.simulator.committee.synced_sats(user) for user in world.users}
    assert sorted(synced.values()) == [0, 88_967, 150_000]
    for state in oracle.book.states():
        await publish_state(bootstrap, state.user_address, state.to_json())
    env = listener_env(
        endpoints,
        oracle.bitcoin.from_height,
        procs.free_port(0),
        BTC_CONFIRMATIONS=str(oracle.bitcoin.confirmations),
    )
    with running_listener("test-seed-bitcoin", env):
        head = oracle.wallet.regtest.height()
        for user in world.users:
            record = await until_balance(bootstrap, world.monitored[user], synced[user], 120)
            assert record["network"] == "regtest"
            # Confirmed as the oracle counts: the block is `confirmations` deep.
            assert record["height"] <= head - oracle.bitcoin.confirmations + 1
        spares = dict(zip(world.spare.values(), SPARE_SATS, strict=True))
        for address, sats in spares.items():
            await until_balance(bootstrap, address, sats, 120)
    # The oracle's own reading of the node agrees with the listener's.
    height = await oracle.bitcoin.confirmed_height()
    read = await oracle.bitcoin.balances(world.monitored.values(), height)
    assert {user: read[world.monitored[user]] for user in world.users} == synced
