"""The ABIs in `shared` are what solc makes of `contracts/src`, and their events are exactly the
signatures of SPEC section 4 (names, types, indexed flags, parameter names)."""

from __future__ import annotations

import json

from devstack import chain
from reservesync.contracts import SystemContract, abi, events

# SPEC section 4, verbatim: `*` marks an indexed parameter.
# ruff: noqa: E501
SPEC_EVENTS = {
    SystemContract.ORACLE_AGGREGATOR: [
        "Synced(address* user, uint64 newBalanceSats, int64 deltaSats, uint256 feeWei, uint32 height, uint64 timestamp)",
        "NeedsTopUp(address* user)",
        "EmergencyBurn(address* user, uint256 burnedAmount, string reason)",
    ],
    SystemContract.RBTC_SYNTH: [
        "Transfer(address* from, address* to, uint256 amount)",
        "Approval(address* owner, address* spender, uint256 amount)",
    ],
    SystemContract.FEE_VAULT: [
        "Deposited(address* user, uint256 amount)",
        "Spent(address* user, uint256 amount, address* by)",
        "Withdrawn(address* user, uint256 amount)",
    ],
    SystemContract.VAULT_WRBTC: [
        "Transfer(address* from, address* to, uint256 amount)",
        "Approval(address* owner, address* spender, uint256 amount)",
        "Wrapped(address* user, uint256 amount)",
        "Redeemed(address* user, uint256 amount)",
        "Slashed(address* user, uint256 amount)",
    ],
    SystemContract.FEE_POLICY: [],
    SystemContract.YIELD_SCALES_POOL: [
        "ParticipantJoined(address* user, uint8 participantType, uint256 amount)",
        "ParticipantLeft(address* user, uint8 participantType, uint256 amount)",
        "YieldCalculated(uint256 totalUSDTVirtual, uint256 totalRBTCSupply, uint256 currentYieldRate)",
        "YieldClaimed(address* user, uint256 amount)",
        "ScalesBalanceUpdated(uint256 usdtScale, uint256 rbtcScale, uint256 timestamp)",
        "EmergencyBurnTriggered(address* user, uint256 burnedAmount, string reason)",
        "BalanceDisputed(address* user, uint256 reportedBalance, uint256 oracleBalance)",
    ],
}


def _render(event: dict[str, object]) -> str:
    params = ", ".join(
        f"{p['type']}{'*' if p['indexed'] else ''} {p['name']}"
        for p in event["inputs"]  # type: ignore[attr-defined]
    )
    return f"{event['name']}({params})"


def test_events_are_exactly_those_of_the_spec() -> None:
    for contract, expected in SPEC_EVENTS.items():
        assert sorted(_render(e) for e in events(contract)) == sorted(expected), contract


def test_committed_abis_are_what_solc_compiles() -> None:
    build = chain.compile_contracts()
    for contract in SystemContract:
        compiled = json.loads((build / f"{contract.value}.json").read_text())["abi"]
        key = json.dumps
        assert sorted(map(key, compiled)) == sorted(map(key, abi(contract))), (
            f"shared/src/reservesync/abi/{contract.value}.json is stale: run "
            "`node contracts/scripts/compile.js build --abi-dir shared/src/reservesync/abi`"
        )
        assert compiled, contract


def test_fee_policy_quotes_the_spec_formula_in_its_abi() -> None:
    quote = next(i for i in abi(SystemContract.FEE_POLICY) if i.get("name") == "quoteFees")
    assert [p["type"] for p in quote["inputs"]] == ["address", "int64"]
    assert [p["type"] for p in quote["outputs"]] == ["uint256"]
