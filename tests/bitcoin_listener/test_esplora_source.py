"""The bitcoin-listener with an Esplora HTTP API as its Bitcoin source, against an
Esplora-compatible façade over the stack's real btcd (`support.esplora_facade`): it ends in
exactly the state a JSON-RPC listener on the same node reaches, through payments, a spend, a
Bitcoin reorg and a block of several pages; a server that rate-limits, goes down, lies about
its height or answers nonsense makes it unready with the reason and publishes nothing until it
makes sense again; and the verifier's Esplora reader counts what its JSON-RPC reader counts."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime

import pytest
from bitcoin_listener import checkpoint
from bitcoin_listener.checkpoint import BitcoinCheckpoint
from devstack import procs
from devstack.regtest import FEE_SATS, OwnKey, Regtest
from reservesync import esplora
from reservesync.bitcoin_address import script_for
from reservesync.esplora_reader import EsploraReader
from reservesync.messages import Network
from reservesync.reserves_evidence import BitcoinReader, EvidenceError
from reservesync.settings import KafkaSettings

from tests.support import bitcoin_listening as listening
from tests.support.bitcoin_listening import (
    latest,
    listener_env,
    new_user,
    publish_state,
    user_state,
)
from tests.support.esplora_facade import EsploraFacade
from tests.support.stack import Endpoints
from tests.support.tcp_proxy import cuttable
from tests.support.waiting import eventually

RPC_KEYS = ("BITCOIN_RPC_URL", "BITCOIN_RPC_USER", "BITCOIN_RPC_PASSWORD")


@contextlib.asynccontextmanager
async def _facade(endpoints: Endpoints) -> AsyncIterator[EsploraFacade]:
    facade = EsploraFacade(endpoints.bitcoin)
    await facade.start()
    try:
        yield facade
    finally:
        await facade.close()


def _esplora_env(
    endpoints: Endpoints, start: int, port: int, url: str, **overrides: str
) -> dict[str, str]:
    env = listener_env(endpoints, start, port, BTC_ESPLORA_URL=url, **overrides)
    return {key: value for key, value in env.items() if key not in RPC_KEYS}


async def _watched(endpoints: Endpoints, regtest: Regtest, addresses: list[str]) -> int:
    user = new_user()
    await publish_state(
        endpoints.kafka_bootstrap_servers, user, user_state(user, addresses).to_json()
    )
    return regtest.height() + 1


@dataclass(frozen=True)
class View:
    """What two listeners on one chain must agree on: where they are, the blocks they
    processed, and the outputs and balances of the test's addresses."""

    next_height: int
    blocks: list[tuple[int, str, datetime]]
    outputs: dict[str, dict[str, int] | None]
    published: dict[str, int | None]


def _view(saved: BitcoinCheckpoint | None, addresses: list[str]) -> View | None:
    if saved is None:
        return None
    return View(
        saved.next_height,
        [(b.height, b.hash, b.time) for b in saved.recent],
        {a: saved.outputs.get(a) for a in addresses},
        {a: saved.published.get(a) for a in addresses},
    )


async def _agreed(
    bootstrap: str, keys: tuple[bytes, bytes], addresses: list[str], next_height: int
) -> View | None:
    """The two listeners' common view once both processed everything below `next_height`."""
    settings = KafkaSettings(kafka_bootstrap_servers=bootstrap)
    rpc, esplora = [_view(await checkpoint.load(settings, key), addresses) for key in keys]
    if rpc is None or rpc != esplora or rpc.next_height != next_height:
        return None
    return rpc


async def test_it_reaches_the_state_a_json_rpc_listener_reaches_through_a_reorg(
    endpoints: Endpoints, regtest: Regtest, probe_port: int
) -> None:
    bootstrap = endpoints.kafka_bootstrap_servers
    own, other = OwnKey(), OwnKey()
    addresses = [own.address, other.address]
    start = await _watched(endpoints, regtest, addresses)
    confirmations = 2
    rpc_env = listener_env(endpoints, start, probe_port, BTC_CONFIRMATIONS=str(confirmations))
    async with _facade(endpoints) as facade:
        esplora_env = _esplora_env(
            endpoints, start, procs.free_port(0), facade.url, BTC_CONFIRMATIONS=str(confirmations)
        )
        keys = (
            f"{rpc_env['BITCOIN_TRANSACTIONAL_ID']}/regtest".encode(),
            f"{esplora_env['BITCOIN_TRANSACTIONAL_ID']}/regtest".encode(),
        )

        async def agreed() -> View:
            expected_next = regtest.height() - confirmations + 2
            found = await eventually(
                lambda: _agreed(bootstrap, keys, addresses, expected_next),
                within=120,
                what=f"both listeners at {expected_next} with one view",
            )
            assert found is not None
            return found

        with (
            listening.running_listener("test-bitcoin-rpc-twin", rpc_env),
            listening.running_listener("test-bitcoin-esplora-twin", esplora_env),
        ):
            # Blocks of their own first: the reorg below stays above the start height, under
            # which a listener keeps one block as the ancestor and takes nothing back.
            regtest.mine(3)
            txid, coins = regtest.send({own.address: 80_000, other.address: 30_000})
            regtest.mine(confirmations)
            paid_at = regtest.block_of(txid)
            view = await agreed()
            assert view.published == {own.address: 80_000, other.address: 30_000}

            spend = regtest.spend(coins[own.address], own, {other.address: 25_000})
            regtest.mine(confirmations)
            view = await agreed()
            left = 80_000 - 25_000 - FEE_SATS
            assert view.published == {own.address: left, other.address: 55_000}

            # The payment's block leaves the best chain: both take it back alike.
            regtest.rpc("invalidateblock", regtest.rpc("getblockhash", paid_at))
            view = await agreed()
            assert view.next_height <= paid_at
            assert view.published == {own.address: 0, other.address: 0}
            assert facade.requests > 0

            # The other branch grows past it; both follow it to the same balances.
            regtest.mine(3)
            view = await agreed()
            assert [h for _, h, _ in view.blocks] == [
                regtest.rpc("getblockhash", height) for height, _, _ in view.blocks
            ]

            # The new branch may or may not have mined the two transactions again: the node
            # says which of their outputs are unspent.
            def unspent(tx: str, vout: int, sats: int) -> int:
                return sats if regtest.rpc("gettxout", tx, vout, False) is not None else 0

            assert view.published == {
                own.address: unspent(txid, 0, 80_000) + unspent(spend, 1, left),
                other.address: unspent(txid, 1, 30_000) + unspent(spend, 0, 25_000),
            }

            # A block of more than one page of transactions (25 a page): every page is read.
            # Funded from one coin (mature coinbases are few), the spends then mined together.
            before = view.published[other.address] or 0
            payers = [OwnKey() for _ in range(esplora.PAGE_SIZE + 2)]
            _, funds = regtest.send({payer.address: 20_000 for payer in payers})
            regtest.mine(1)
            many = [
                regtest.spend(funds[payer.address], payer, {other.address: 1_000 + n})
                for n, payer in enumerate(payers)
            ]
            regtest.mine(confirmations)
            assert len({regtest.block_of(tx) for tx in many}) == 1
            view = await agreed()
            assert view.published[other.address] == before + sum(
                1_000 + n for n in range(len(many))
            )

            # The block above the processed tip leaves the best chain: the tip is still the
            # node's but one confirmation short now, so it is taken back, payments and all.
            regtest.rpc("invalidateblock", regtest.rpc("getblockhash", regtest.height()))
            view = await agreed()
            assert view.published[other.address] == before


async def test_a_server_rate_limiting_down_lying_or_garbled_leaves_it_unready(
    endpoints: Endpoints, regtest: Regtest, probe_port: int
) -> None:
    bootstrap = endpoints.kafka_bootstrap_servers
    address = OwnKey().address
    start = await _watched(endpoints, regtest, [address])
    async with _facade(endpoints) as facade, cuttable(facade.url) as proxy:
        url = proxy.url_through(facade.url)
        env = _esplora_env(endpoints, start, probe_port, url, BTC_CONFIRMATIONS="1")
        with listening.running_listener("test-bitcoin-esplora-faults", env):
            regtest.mine(1)
            await listening.until_balance(bootstrap, address, 0, within=90)

            # Rate-limited: it waits (saying for what) and gets there once allowed.
            facade.throttled = 1_000_000
            regtest.send({address: 21_000})
            regtest.mine(1)
            await eventually(
                lambda: listening.unready(probe_port, "bitcoin-esplora"), what="503 while throttled"
            )
            assert (await latest(bootstrap, address) or {}).get("confirmed_sats") == 0
            assert listening.probe(probe_port, "/healthz")[0] == 200
            facade.throttled = 0
            await listening.until_balance(bootstrap, address, 21_000, within=90)
            await eventually(lambda: listening.ready(probe_port), what="ready after the rate limit")

            # Down: the same, while no connection is possible.
            proxy.sever()
            await eventually(
                lambda: listening.unready(probe_port, "bitcoin-esplora"), what="503 while down"
            )
            proxy.restore()
            await eventually(lambda: listening.ready(probe_port), what="ready after the outage")

            # Lying: a tip below the processed height, with the processed tip still in
            # its best chain.
            facade.lie_by = 5
            regtest.send({address: 4_000})
            regtest.mine(1)
            unready = await eventually(
                lambda: listening.unready(probe_port, "not a reorg"), what="503 while it lies"
            )
            assert "consistent bitcoin node" in str(unready)
            assert (await latest(bootstrap, address) or {}).get("confirmed_sats") == 21_000
            facade.lie_by = 0
            await listening.until_balance(bootstrap, address, 25_000, within=90)

            # Nonsense: block pages that are not what the API documents.
            facade.garbled = True
            regtest.send({address: 1_000})
            regtest.mine(1)
            await eventually(
                lambda: listening.unready(probe_port, "esplora answered nonsense"),
                what="503 for garbled pages",
            )
            assert (await latest(bootstrap, address) or {}).get("confirmed_sats") == 25_000
            facade.garbled = False
            await listening.until_balance(bootstrap, address, 26_000, within=90)
            await eventually(lambda: listening.ready(probe_port), what="ready after the nonsense")


async def test_the_verifiers_esplora_reader_counts_what_its_json_rpc_reader_counts(
    endpoints: Endpoints, regtest: Regtest
) -> None:
    own, other = OwnKey(), OwnKey()
    start = regtest.height() + 1
    paid, coins = regtest.send({own.address: 50_000})
    regtest.mine(1)
    regtest.spend(coins[own.address], own, {other.address: 20_000})
    regtest.mine(1)
    paid_at, head = regtest.block_of(paid), regtest.height()
    scripts = {script_for(a, Network.REGTEST): a for a in (own.address, other.address)}
    bitcoin = endpoints.bitcoin
    rpc = BitcoinReader(bitcoin.rpc_url, auth=(bitcoin.rpc_user, bitcoin.rpc_password))
    async with _facade(endpoints) as facade:
        reader = EsploraReader(facade.url)
        facade.throttled = 3  # rate-limited at first: it waits as asked and goes on
        for height in (paid_at - 1, paid_at, head):
            # The reader blocks: it runs beside the test's event loop.
            found = await asyncio.to_thread(reader.balances, scripts, height, from_height=start)
            assert found == rpc.balances(scripts, height, from_height=start), height
        assert found == {own.address: 50_000 - 20_000 - FEE_SATS, other.address: 20_000}
        assert facade.throttled == 0

        # Rate-limited for longer than it waits: a clear error, no balance.
        facade.throttled = 1_000_000
        impatient = EsploraReader(facade.url, retry_for_s=3)
        with pytest.raises(EvidenceError, match=r"HTTP Error 429.*still after 3s"):
            await asyncio.to_thread(impatient.balances, scripts, head, from_height=start)
