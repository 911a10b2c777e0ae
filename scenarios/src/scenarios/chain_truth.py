"""The chain's own account of what happened, read straight from the node (eth_getLogs over the
system contracts, decoded with their ABIs): what the drills and the demo check the pipeline's
output against, so the expectation never comes from the code under test."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from devstack.deploy import DeploymentRecord
from devstack.paths import stack_dir
from devstack.protocol import Protocol
from reservesync.contracts import SystemContract, events
from web3 import Web3

# Events that move money, so become `transactions` rows (SPEC section 5); a `Synced` does
# too unless it is the balance half of an emergency burn, `Synced(user, 0, -prev, 0, 0, t)`.
MONEY_EVENTS = frozenset(
    {
        "Deposited",
        "Spent",
        "Withdrawn",
        "EmergencyBurn",
        "Wrapped",
        "Redeemed",
        "Slashed",
        "YieldClaimed",
    }
)


@dataclass(frozen=True)
class ChainLog:
    event_id: str
    tx_hash: str
    log_index: int
    contract: str
    event: str
    moves_money: bool


def chain_events(env: Mapping[str, str], start_block: int) -> list[ChainLog]:
    record = DeploymentRecord.model_validate_json((stack_dir() / "deployment.json").read_text())
    protocol = Protocol(env["CHAIN_RPC_URL"], record)
    by_address = {c.address: name for name, c in record.contracts.items()}
    head = protocol.w3.eth.block_number
    logs = protocol.w3.eth.get_logs(
        {
            "fromBlock": start_block,
            "toBlock": head,
            "address": [Web3.to_checksum_address(a) for a in by_address],
        }
    )
    found: list[ChainLog] = []
    for log in logs:
        contract = by_address[str(log["address"]).lower()]
        name, args = _decode(protocol, contract, log)
        tx_hash = "0x" + bytes(log["transactionHash"]).hex()
        emergency_half = name == "Synced" and args["feeWei"] == 0 and args["newBalanceSats"] == 0
        found.append(
            ChainLog(
                event_id=f"{record.chain_id}:{tx_hash}:{log['logIndex']}",
                tx_hash=tx_hash,
                log_index=int(log["logIndex"]),
                contract=contract.value,
                event=name,
                moves_money=name in MONEY_EVENTS or (name == "Synced" and not emergency_half),
            )
        )
    return found


def _decode(
    protocol: Protocol, contract: SystemContract, log: object
) -> tuple[str, dict[str, object]]:
    bound = protocol.contract(contract)
    for item in events(contract):
        try:
            decoded = bound.events[item["name"]]().process_log(log)
        except Exception:  # noqa: S112 (not this event: try the next)
            continue
        return str(item["name"]), dict(decoded["args"])
    raise ValueError(f"a log of {contract.value} that none of its events explain: {log}")
