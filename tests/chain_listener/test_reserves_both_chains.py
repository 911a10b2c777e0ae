"""Reserves from both chains, end to end: a user with BTC on a verified regtest address (real
btcd, the real bitcoin-listener process) and rBTC and wrBTC on the private Hardhat chain (a
listener of it, Kafka, the db-writer's own code writing a database of its own), the API over
that database, and the verifier command re-deriving the user's leaf from the two nodes alone.

Here beside the token-holder test because the private chain and the listener harness are its
fixtures (and its `Run` drives them).
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from db_writer.mapping import Rows, Source, rows_for
from db_writer.storage import SinkStore
from devstack import procs, services
from devstack.regtest import OwnKey, Regtest
from eth_account import Account
from eth_account.messages import encode_defunct
from reservesync.contracts import SystemContract
from reservesync.messages import BitcoinAddressBalance, Message
from reservesync.topics import BITCOIN_BALANCES, CHAIN_EVENTS, ORACLE_STATE

from tests.chain_listener.support import listener_harness as harness
from tests.chain_listener.support.chains import PrivateChain, account_that_sends, hash_hex, rpc
from tests.chain_listener.support.kafka_records import TopicCursor
from tests.chain_listener.test_token_holders import FEES_WEI, Run, _cipher
from tests.support.api_process import API, start_api
from tests.support.bitcoin_listening import (
    listener_env,
    publish_state,
    running_listener,
    until_balance,
    user_state,
)
from tests.support.databases import FreshDatabase, fresh_database
from tests.support.stack import Endpoints
from tests.support.waiting import eventually

PAID_SATS = 70_000
SYNCED_SATS = 100_000
VERIFY = [sys.executable, "-m", "reservesync.verify_reserves"]


@pytest.fixture(name="regtest")
def _regtest(endpoints: Endpoints) -> Regtest:
    chain = Regtest(endpoints.bitcoin)
    chain.height()  # fails here, with the reason, when the node does not answer
    return chain


@pytest.fixture(name="fresh")
def _fresh(endpoints: Endpoints) -> Iterator[FreshDatabase]:
    with fresh_database(endpoints) as database:
        yield database


async def _write(endpoints: Endpoints, url: str, topic: str, messages: list[Message]) -> None:
    """The messages through the writer's mapping and store, as its consumer applies them."""
    store = await SinkStore.connect(url, "reserves-test", 2)
    try:
        for offset, message in enumerate(messages):
            rows = Rows()
            rows.extend(rows_for(message, Source(topic, 0, offset), _cipher(endpoints)))
            await store.write(rows, {(topic, 0): offset + 1})
    finally:
        await store.close()


def _verify(
    endpoints: Endpoints, api: str, chain: PrivateChain, scan_from: int, *args: str
) -> subprocess.CompletedProcess[str]:
    bitcoin = endpoints.bitcoin
    env = {
        "PATH": os.environ.get("PATH", ""),
        "VERIFY_API_URL": f"{api}/api/realtime",
        "VERIFY_EVM_RPC_URL": chain.rpc_url,
        "VERIFY_AGGREGATOR": chain.deployment.contracts[SystemContract.ORACLE_AGGREGATOR].address,
        "VERIFY_BITCOIN_RPC_URL": bitcoin.rpc_url,
        "VERIFY_BITCOIN_RPC_USER": bitcoin.rpc_user,
        "VERIFY_BITCOIN_RPC_PASSWORD": bitcoin.rpc_password,
        "VERIFY_BITCOIN_NETWORK": bitcoin.network,
        "VERIFY_BITCOIN_SCAN_FROM": str(scan_from),
    }
    return subprocess.run(
        [*VERIFY, *args], env=env, capture_output=True, text=True, timeout=300, check=False
    )


async def _bitcoin_side(
    endpoints: Endpoints, regtest: Regtest, fresh: FreshDatabase, user: str
) -> tuple[str, str, int, int]:
    """BTC paid to the user's verified address and to another, as the real listener reports
    them, written to the database; (address, other address, scan start, height H)."""
    bootstrap = endpoints.kafka_bootstrap_servers
    own, other = OwnKey(), OwnKey()
    start = regtest.height() + 1
    state = user_state(user, [own.address])
    await publish_state(bootstrap, user, state.to_json())
    env = listener_env(endpoints, start, procs.free_port(0), BTC_CONFIRMATIONS="2")
    with running_listener("test-reserves-bitcoin", env):
        txid, _coins = regtest.send({own.address: PAID_SATS, other.address: 5_000})
        regtest.mine(2)
        record = await until_balance(bootstrap, own.address, PAID_SATS)
    height = int(record["height"])
    assert height == regtest.block_of(txid)
    balance = BitcoinAddressBalance.model_validate(record)
    await _write(endpoints, fresh.writer_url, ORACLE_STATE.name, [state])
    await _write(endpoints, fresh.writer_url, BITCOIN_BALANCES.name, [balance])
    return own.address, other.address, start, height


async def test_the_leaf_has_both_sides_and_the_verifier_rederives_it(
    endpoints: Endpoints,
    empty_private: PrivateChain,
    fresh: FreshDatabase,
    regtest: Regtest,
    tmp_path: Path,
) -> None:
    # The whole supply is this test's: the verifier's --all checks it against totalSupply.
    private = empty_private
    protocol = private.protocol
    owner = Account.create()  # its key signs the owner proof the verifier shows the API
    rpc(private.w3, "hardhat_impersonateAccount", owner.address)
    rpc(private.w3, "hardhat_setBalance", owner.address, hex(10 * 10**18))
    sender, receiving = str(owner.address), account_that_sends(private.w3)
    user, receiver = sender.lower(), receiving.lower()
    address, other, scan_from, height = await _bitcoin_side(endpoints, regtest, fresh, user)

    run = Run(endpoints, private, fresh)
    run.cursor = await TopicCursor.at_end(endpoints.kafka_bootstrap_servers, CHAIN_EVENTS.name)
    protocol.deposit_fees(sender, FEES_WEI)
    protocol.sync(sender, SYNCED_SATS)
    protocol.wrap(sender, 30_000)
    last = protocol.send_wrbtc(sender, receiving, 10_000)
    async with harness.running(run.settings):
        await run.sync_database(hash_hex(last["blockHash"]))
    evm_block = int(last["blockNumber"])
    supply, wrbtc = protocol.total_supplies()
    assert (supply, wrbtc) == (SYNCED_SATS, 30_000)

    url = start_api(endpoints, fresh.api_url, "apireserves", API_RATE_LIMIT_PER_S="0")
    try:
        async with httpx.AsyncClient(base_url=f"{url}/api/realtime", timeout=10) as http:

            async def published() -> dict[str, Any] | None:
                body: dict[str, Any] = (await http.get("/proof-of-reserves")).json()
                return body if body["evm_block"] == evm_block else None

            body = await eventually(published, within=60, what="the snapshot at block B")
            assert body is not None
            proof = (await http.get("/proof-of-reserves/proof", params={"address": user})).json()
            challenge = (await http.post("/owner-challenge", params={"address": user})).json()
            metrics = (await http.get(f"{url}/metrics")).text
        for line in (
            f'api_reserves_sats{{side="btc_held"}} {float(PAID_SATS)}',
            f'api_reserves_sats{{side="unbacked_by_btc"}} {float(supply - PAID_SATS)}',
            f'api_reserves_point{{chain="btc_height"}} {float(height)}',
            f'api_reserves_point{{chain="evm_block"}} {float(evm_block)}',
        ):
            assert line in metrics
        _published_totals(body, supply, height)
        assert (proof["rbtc_sats"], proof["wrbtc_sats"], proof["synced_sats"]) == (
            70_000,
            20_000,
            SYNCED_SATS,
        )
        assert (proof["btc_sats"], proof["evm_block"], proof["btc_height"]) == (
            PAID_SATS,
            evm_block,
            height,
        )
        assert proof["scheme"] == "sha256-merkle-sum-v3"

        verify = functools.partial(_verify, endpoints, url, private, scan_from)
        good = verify("--address", user, "--btc-address", address)
        assert good.returncode == 0, good.stderr
        assert f"BTC {PAID_SATS} sats" in good.stdout
        # The addresses from the API itself, shown to their owner.
        signature = owner.sign_message(encode_defunct(text=challenge["challenge"])).signature
        owned = verify(
            "--address",
            user,
            "--owner-challenge",
            challenge["challenge"],
            "--owner-signature",
            "0x" + bytes(signature).hex(),
        )
        assert owned.returncode == 0, owned.stderr
        assert f"BTC {PAID_SATS} sats" in owned.stdout
        # A leaf claimed with other BTC (another address's 5,000 sats) is refused, named.
        wrong = verify("--address", user, "--btc-address", other)
        assert wrong.returncode == 1
        assert "NOT VERIFIED" in wrong.stderr
        assert "btc_sats: the chain says 5000" in wrong.stderr

        vault = private.deployment.contracts[SystemContract.VAULT_WRBTC].address
        leaves = [
            {"address": user, "btc_addresses": [address]},
            {"address": receiver},
            {"address": vault},
        ]
        whole = tmp_path / "leaves.json"
        whole.write_text(json.dumps(leaves))
        every = verify("--all", "--leaves", str(whole))
        assert every.returncode == 0, every.stderr
        assert f"supply {supply} sats, BTC held {PAID_SATS} sats, ratio 0.700000" in every.stdout
        # A leaf list that leaves a holder out does not give the published root.
        whole.write_text(json.dumps(leaves[:2]))
        partial = verify("--all", "--leaves", str(whole))
        assert partial.returncode == 1
        assert "differs from the published" in partial.stderr
    finally:
        services.stop([API], prefix="apireserves")


def _published_totals(body: dict[str, Any], supply: int, height: int) -> None:
    assert body["total_rbtc_sats"] == supply
    assert (body["btc_held_sats"], body["btc_height"]) == (PAID_SATS, height)
    assert body["unbacked_by_btc_sats"] == supply - PAID_SATS
    deficits = {d["name"]: d["sats"] for d in body["deficits"]}
    assert deficits == {"unbacked_by_btc_sats": supply - PAID_SATS}
    assert body["backing_ratio"] == 0.7
    assert (body["status"], body["fully_backed"]) == ("critical", False)
    assert body["merkle"]["total_btc_sats"] == PAID_SATS
    assert body["merkle"]["total_sats"] == supply
