"""The bitcoin-listener under faults, on the real regtest node: a reorg taken back, kill -9 in
the middle of a stream resumed exactly once, addresses it cannot watch refused to the DLQ, and
a node that is down or lies about its height (503 with the reason, nothing published, then
recovery)."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import AsyncIterator
from typing import Any

from bitcoin_listener import checkpoint
from devstack import procs
from devstack.regtest import OwnKey, Regtest, five_kinds
from reservesync.settings import KafkaSettings

from tests.support import bitcoin_listening as listening
from tests.support.bitcoin_listening import (
    latest,
    listener_env,
    new_user,
    publish_state,
    until_balance,
    user_state,
)
from tests.support.lying_bitcoin_node import LyingBitcoinNode
from tests.support.stack import Endpoints
from tests.support.tcp_proxy import cuttable
from tests.support.waiting import eventually


async def _watched(endpoints: Endpoints, regtest: Regtest, addresses: list[str]) -> int:
    """A new user listing `addresses`; returns the height a listener should start at."""
    user = new_user()
    state = user_state(user, addresses).to_json()
    await publish_state(endpoints.kafka_bootstrap_servers, user, state)
    return regtest.height() + 1


async def test_a_reorg_is_taken_back(
    endpoints: Endpoints, regtest: Regtest, probe_port: int
) -> None:
    bootstrap = endpoints.kafka_bootstrap_servers
    address = OwnKey().address
    start = await _watched(endpoints, regtest, [address])
    env = listener_env(endpoints, start, probe_port, BTC_CONFIRMATIONS="2")
    with listening.running_listener("test-bitcoin-reorg", env):
        regtest.mine(2)
        await until_balance(bootstrap, address, 0)
        txid, _ = regtest.send({address: 70_000})
        regtest.mine(2)
        paid_at = regtest.block_of(txid)
        paid = await until_balance(bootstrap, address, 70_000)
        orphaned = paid["block_hash"]

        # The payment's block leaves the best chain: the balance goes back to what it was, at
        # a block that is still canonical and confirmed.
        regtest.rpc("invalidateblock", regtest.rpc("getblockhash", paid_at))
        back = await until_balance(bootstrap, address, 0)
        assert back["height"] < paid_at
        assert back["block_hash"] == regtest.rpc("getblockhash", back["height"])
        status, line = listening.probe(probe_port, "/readyz")
        assert status == 200, line

        # The other branch grows past it; whatever it holds is what gets published.
        regtest.mine(3)
        head_hashes = {regtest.rpc("getblockhash", h) for h in range(start, regtest.height() + 1)}
        assert orphaned not in head_hashes
        settled = await eventually(
            lambda: _settled(bootstrap, address, regtest, probe_port),
            what="the balance on the new branch",
        )
        assert settled is not None
        assert settled["block_hash"] in head_hashes
        # The new branch may or may not have mined the payment again: the node says which.
        still_paid = regtest.rpc("gettxout", txid, 0, False) is not None
        assert settled["confirmed_sats"] == (70_000 if still_paid else 0)


async def _settled(
    bootstrap: str, address: str, regtest: Regtest, port: int
) -> dict[str, Any] | None:
    """The latest record once the listener has processed the new branch's confirmed tip."""
    if not await listening.processed_through(port, regtest.height() - 1):
        return None
    record = await latest(bootstrap, address)
    if record is None or record["block_hash"] != regtest.rpc("getblockhash", record["height"]):
        return None
    return record


async def test_killed_with_sigkill_mid_stream_resumes_exactly_once(
    endpoints: Endpoints, regtest: Regtest, probe_port: int
) -> None:
    bootstrap = endpoints.kafka_bootstrap_servers
    addresses = [OwnKey().address, OwnKey().address]
    start = await _watched(endpoints, regtest, addresses)
    env = listener_env(endpoints, start, probe_port, BTC_CONFIRMATIONS="1")
    name = "test-bitcoin-kill"
    total: dict[str, int] = dict.fromkeys(addresses, 0)
    listening.start(name, env)
    try:
        regtest.mine(1)
        for address in addresses:
            await until_balance(bootstrap, address, 0)
        for round_ in range(8):
            payments = {a: 1_000 * (round_ + 1) + i for i, a in enumerate(addresses)}
            regtest.send(payments)
            regtest.mine(1)
            for address, sats in payments.items():
                total[address] += sats
            if round_ in (2, 5):
                procs.kill(name)  # SIGKILL: whatever transaction was open is aborted
                listening.start(name, env)
        for address, sats in total.items():
            await until_balance(bootstrap, address, sats)
    finally:
        procs.stop(name)

    for address in addresses:
        history = [r for r in await listening.balances(bootstrap, [address]) if r is not None]
        heights = [r["height"] for r in history]
        assert heights == sorted(set(heights)), (
            f"a height published twice or out of order: {heights}"
        )
        amounts = [r["confirmed_sats"] for r in history]
        assert amounts == sorted(set(amounts)), f"a balance published twice: {amounts}"
        assert amounts[0] == 0
        assert amounts[-1] == total[address]


async def test_addresses_it_cannot_watch_are_refused_and_the_rest_watched(
    endpoints: Endpoints, regtest: Regtest, probe_port: int
) -> None:
    bootstrap = endpoints.kafka_bootstrap_servers
    good = five_kinds()
    bad = {
        "mainnet": "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4",
        "checksum": good["p2wpkh"][:-1] + ("q" if good["p2wpkh"][-1] != "q" else "p"),
        "witness v2": "bcrt1zw508d6qejxtdg4y5r3zarvaryvg6hnvs",
        "garbage": "not-an-address-at-all",
    }
    start = await _watched(endpoints, regtest, [*good.values(), *bad.values()])
    env = listener_env(endpoints, start, probe_port, BTC_CONFIRMATIONS="1")
    with listening.running_listener("test-bitcoin-refusals", env):
        regtest.mine(1)
        for address in good.values():
            await until_balance(bootstrap, address, 0)
        for kind, address in bad.items():
            letters = await eventually(
                functools.partial(listening.dead_letters, bootstrap, address),
                what=f"{kind} refused",
            )
            assert "InvalidMessage" in letters[0]["error"]
            assert await latest(bootstrap, address) is None
        status, line = listening.probe(probe_port, "/readyz")
        assert status == 200, line


@contextlib.asynccontextmanager
async def _lying(upstream: str) -> AsyncIterator[LyingBitcoinNode]:
    node = LyingBitcoinNode(upstream)
    await node.start()
    try:
        yield node
    finally:
        await node.close()


async def test_a_node_down_or_lying_makes_it_unready_and_publishes_nothing(
    endpoints: Endpoints, regtest: Regtest, probe_port: int
) -> None:
    bootstrap = endpoints.kafka_bootstrap_servers
    address = OwnKey().address
    start = await _watched(endpoints, regtest, [address])
    async with (
        cuttable(endpoints.bitcoin.rpc_url) as proxy,
        _lying(proxy.url_through(endpoints.bitcoin.rpc_url)) as liar,
    ):
        env = listener_env(
            endpoints, start, probe_port, BTC_CONFIRMATIONS="1", BITCOIN_RPC_URL=liar.url
        )
        with listening.running_listener("test-bitcoin-node-faults", env):
            regtest.mine(1)
            await until_balance(bootstrap, address, 0)

            # Down: not ready, saying why; alive.
            proxy.sever()
            unready = await eventually(
                lambda: listening.unready(probe_port, "bitcoin-rpc"),
                what="503 while the node is down",
            )
            assert unready is not None
            assert "waiting for bitcoin-rpc" in unready
            assert listening.probe(probe_port, "/healthz")[0] == 200
            proxy.restore()
            await eventually(lambda: listening.ready(probe_port), what="ready again")

            # Lying: its height falls below what was processed, with no reorg to explain it.
            liar.lie_by = 5
            regtest.send({address: 40_000})
            regtest.mine(1)
            unready = await eventually(
                lambda: listening.unready(probe_port, "not a reorg"), what="503 while the node lies"
            )
            assert unready is not None
            assert "consistent bitcoin node" in unready
            assert (await latest(bootstrap, address) or {}).get("confirmed_sats") == 0
            liar.lie_by = 0
            await until_balance(bootstrap, address, 40_000)
            await eventually(lambda: listening.ready(probe_port), what="ready after the lie")

            # Lying: a block whose parent is not the block the node itself reports below it.
            liar.forge_parents = True
            regtest.send({address: 5_000})
            regtest.mine(1)
            unready = await eventually(
                lambda: listening.unready(probe_port, "names parent"),
                what="503 for an unknown parent",
            )
            assert (await latest(bootstrap, address) or {}).get("confirmed_sats") == 40_000
            liar.forge_parents = False
            await until_balance(bootstrap, address, 45_000)
            await eventually(
                lambda: listening.ready(probe_port), what="ready after the forged parents"
            )


async def test_a_newly_verified_address_is_rescanned_and_its_history_taken_back_in_a_reorg(
    endpoints: Endpoints, regtest: Regtest, probe_port: int
) -> None:
    bootstrap = endpoints.kafka_bootstrap_servers
    early, later = OwnKey().address, OwnKey().address
    start = await _watched(endpoints, regtest, [early])
    txid, _ = regtest.send({later: 65_000})  # paid before anyone lists it
    regtest.mine(3)
    paid_at = regtest.block_of(txid)
    env = listener_env(endpoints, start, probe_port, BTC_CONFIRMATIONS="2")
    with listening.running_listener("test-bitcoin-rescan", env):
        await until_balance(bootstrap, early, 0)
        assert await latest(bootstrap, later) is None

        await _watched(endpoints, regtest, [later])  # verified now: its history is rescanned
        found = await until_balance(bootstrap, later, 65_000)
        assert found["height"] >= paid_at

        # What the rescan found in the reorg window is taken back like anything else.
        regtest.rpc("invalidateblock", regtest.rpc("getblockhash", paid_at))
        back = await until_balance(bootstrap, later, 0)
        assert back["height"] < paid_at


async def test_a_reorg_that_changes_no_balance_still_moves_the_checkpoint_back(
    endpoints: Endpoints, regtest: Regtest, probe_port: int
) -> None:
    """Blocks without a payment of ours taken back: nothing to publish, but the saved
    checkpoint must stop naming them (a restart would resume from blocks no longer
    confirmed)."""
    settings = KafkaSettings(kafka_bootstrap_servers=endpoints.kafka_bootstrap_servers)
    start = await _watched(endpoints, regtest, [OwnKey().address])
    env = listener_env(endpoints, start, probe_port, BTC_CONFIRMATIONS="2")
    key = f"{env['BITCOIN_TRANSACTIONAL_ID']}/regtest".encode()

    async def saved_next_height(expected: int) -> int | None:
        saved = await checkpoint.load(settings, key)
        return expected if saved is not None and saved.next_height == expected else None

    with listening.running_listener("test-bitcoin-quiet-reorg", env):
        regtest.mine(4)
        await eventually(
            functools.partial(saved_next_height, regtest.height()),
            within=120,
            what="the empty blocks",
        )
        # The chain gets two blocks shorter: the processed tip lacks its confirmations now.
        regtest.rpc("invalidateblock", regtest.rpc("getblockhash", regtest.height() - 1))
        await eventually(
            functools.partial(saved_next_height, regtest.height()),
            within=120,
            what="a checkpoint without the blocks taken back",
        )
