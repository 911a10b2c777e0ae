"""Deploys the six system contracts to any JSON-RPC node with unlocked accounts (Hardhat, anvil).

Account 0 deploys and owns; account 1 is the oracle committee. Wiring follows the constructor
and setter contract of `contracts/src`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict
from reservesync import cli
from reservesync.contracts import DeployedContract, Deployment, SystemContract
from web3 import Web3
from web3.contract import Contract

# FeePolicy as deployed by the reference system (SPEC section 4).
PCT_BPS = 100
FIXED_WEI = 10**15
WEI_PER_SAT = 10**12
MAX_FEE_PER_SYNC_WEI = 10**17


class DeploymentRecord(BaseModel):
    model_config = ConfigDict(extra="forbid")
    chain_id: int
    deployer: str
    committee: str
    contracts: Deployment

    def env(self) -> dict[str, str]:
        contracts = {name.value: c.model_dump() for name, c in self.contracts.items()}
        return {
            "CHAIN_ID": str(self.chain_id),
            "CHAIN_CONTRACTS": json.dumps(contracts, separators=(",", ":")),
            "CHAIN_START_BLOCK": str(min(c.deployed_block for c in self.contracts.values())),
            "ORACLE_COMMITTEE_ADDRESS": self.committee,
        }


def _artifact(build: Path, name: SystemContract) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((build / f"{name.value}.json").read_text())
    return loaded


def deploy(rpc_url: str, build: Path) -> DeploymentRecord:
    w3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": 30}))
    accounts = list(w3.eth.accounts)
    deployer, committee = accounts[0], accounts[1]
    deployed: dict[SystemContract, tuple[Contract, int]] = {}

    def create(name: SystemContract, *args: object) -> Contract:
        artifact = _artifact(build, name)
        factory = w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
        tx = factory.constructor(*args).transact({"from": deployer})
        receipt = w3.eth.wait_for_transaction_receipt(tx, timeout=60)
        if receipt["status"] != 1:
            raise RuntimeError(f"deploying {name} reverted")
        address = receipt["contractAddress"]
        assert address is not None
        contract = w3.eth.contract(address=address, abi=artifact["abi"])
        deployed[name] = (contract, int(receipt["blockNumber"]))
        return contract

    def call(contract: Contract, function: str, *args: object) -> None:
        tx = getattr(contract.functions, function)(*args).transact({"from": deployer})
        if w3.eth.wait_for_transaction_receipt(tx, timeout=60)["status"] != 1:
            raise RuntimeError(f"{function} reverted")

    policy = create(SystemContract.FEE_POLICY, PCT_BPS, FIXED_WEI, WEI_PER_SAT)
    synth = create(SystemContract.RBTC_SYNTH, deployer)
    vault = create(SystemContract.FEE_VAULT, deployer)
    wrapper = create(SystemContract.VAULT_WRBTC, synth.address, deployer)
    aggregator = create(
        SystemContract.ORACLE_AGGREGATOR,
        synth.address,
        vault.address,
        policy.address,
        wrapper.address,
        committee,
        MAX_FEE_PER_SYNC_WEI,
    )
    create(SystemContract.YIELD_SCALES_POOL, synth.address, deployer)
    call(synth, "setMinter", aggregator.address)
    call(synth, "setWrapVault", wrapper.address)
    call(vault, "setOracle", aggregator.address)
    call(wrapper, "setOracle", aggregator.address)

    return DeploymentRecord(
        chain_id=w3.eth.chain_id,
        deployer=deployer.lower(),
        committee=committee.lower(),
        contracts={
            name: DeployedContract(address=c.address, deployed_block=block)
            for name, (c, block) in deployed.items()
        },
    )


def still_deployed(rpc_url: str, record: DeploymentRecord) -> bool:
    """True when every recorded address still holds code (a restarted dev node forgets it)."""
    w3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": 10}))
    try:
        return w3.eth.chain_id == record.chain_id and all(
            len(w3.eth.get_code(Web3.to_checksum_address(c.address))) > 0
            for c in record.contracts.values()
        )
    except Exception:
        return False


def main() -> None:
    """`python -m devstack.deploy --rpc-url URL --build DIR --out FILE` (compose's deploy job)."""
    parser = cli.parser("python -m devstack.deploy", main.__doc__)
    parser.add_argument("--rpc-url", required=True, help="the chain's JSON-RPC URL")
    parser.add_argument("--build", required=True, type=Path, help="the compiled contracts")
    parser.add_argument("--out", required=True, type=Path, help="where the record is written")
    args = parser.parse_args()
    record = deploy(args.rpc_url, args.build)
    args.out.write_text(record.model_dump_json(indent=2))
    print(f"deployed {len(record.contracts)} contracts on chain {record.chain_id} -> {args.out}")


if __name__ == "__main__":
    main()
