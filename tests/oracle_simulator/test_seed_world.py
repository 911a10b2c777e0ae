"""The simulator recreates the seed's world on the real chain: the figures the seed reports,
reached by the contracts' own rules (fees, needs-topup, emergency burns)."""

from __future__ import annotations

from collections import Counter

import httpx
import pytest
from devstack.protocol import Protocol
from eth_typing import HexStr
from reservesync.contracts import SystemContract
from reservesync.envelope import EnvelopeRejected, unseal
from reservesync.messages import OracleAction, OracleUserState
from scenarios.oracle.running import RunningOracle
from scenarios.oracle.seed import SEED, SeedWorld
from web3 import Web3


def test_the_oracle_did_what_the_seed_reports(seeded: tuple[RunningOracle, SeedWorld]) -> None:
    oracle, world = seeded
    assert world.figures(oracle) == SEED
    actions = Counter(op.action for op in oracle.book.journal)
    assert actions[OracleAction.USER_REGISTERED] == 3
    assert actions[OracleAction.BTC_ADDRESS_VERIFIED] == 5
    assert actions[OracleAction.EMERGENCY_BURN] == 3
    # Once per episode, not every interval: both users after their first burns (the second
    # user had paid before the oracle looked again after its last burn).
    assert actions[OracleAction.NEEDS_TOPUP] == 2
    ids = [op.operation_id for op in oracle.book.journal]
    assert len(ids) == len(set(ids))


def test_the_chain_agrees(seeded: tuple[RunningOracle, SeedWorld], protocol: Protocol) -> None:
    oracle, world = seeded
    aggregator = protocol.contract(SystemContract.ORACLE_AGGREGATOR)
    synth = protocol.contract(SystemContract.RBTC_SYNTH)
    on_chain = [
        aggregator.functions.lastSyncedSats(Web3.to_checksum_address(u)).call() for u in world.users
    ]
    assert on_chain == [150_000, 88_967, 0]
    held = [synth.functions.balanceOf(Web3.to_checksum_address(u)).call() for u in world.users]
    assert held == on_chain
    burns = [b for s in oracle.book.states() for b in s.emergency_burns]
    assert sorted(b.burned_sats for b in burns) == [50_000, 71_822, 130_000]
    for burn in burns:
        assert burn.tx_hash is not None
        receipt = protocol.w3.eth.get_transaction_receipt(HexStr(burn.tx_hash))
        events = aggregator.events.EmergencyBurn().process_receipt(receipt)
        assert [e["args"]["burnedAmount"] for e in events] == [burn.burned_sats]


async def test_the_state_is_served_sealed(seeded: tuple[RunningOracle, SeedWorld]) -> None:
    oracle, world = seeded
    async with httpx.AsyncClient() as http:
        body = (await http.get(oracle.users_url)).content
    assert world.monitored[world.users[0]].encode() not in body
    document = unseal(body, oracle.key)
    states = [OracleUserState.model_validate(item) for item in document["users"]]
    assert {s.user_address for s in states} == set(world.users)
    assert sum(s.operations_performed for s in states) == len(oracle.book.journal)
    with pytest.raises(EnvelopeRejected, match="authentication tag"):
        unseal(body, bytes(32))
