"""Verify the published proof of reserves from public data only.

--address 0x…: fetch the published state (/proof-of-reserves) and that holder's proof
(/proof-of-reserves/proof), re-derive the holder's leaf at the published (B, H) from the chains
themselves (rBTC and wrBTC `balanceOf` and the aggregator's `lastSyncedSats` at EVM block B;
the confirmed sats of the holder's Bitcoin addresses at Bitcoin height H, from a Bitcoin node's
JSON-RPC or an Esplora HTTP API), and check that it folds into the published root and totals.
The Bitcoin addresses come from --btc-address, or from the API itself for their owner: POST
/owner-challenge, sign the challenge with the address's key (EIP-191) and pass
--owner-challenge and --owner-signature.

--all --leaves FILE: re-derive every leaf of FILE (a JSON list of {"address": "0x…",
"btc_addresses": ["…"]}, every holder of the published tree) and recompute the root, the
totals, the ratio and the supply no BTC backs; the rBTC supply is also checked against the
token's own totalSupply at B.

Exit 0: verified; 1: the proof does not match the chains or the root; 2: bad settings or
arguments. The tree is `reservesync.merkle` (its docstring, and the API's README, define it).
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.parse
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from reservesync import bitcoin_address, cli, merkle
from reservesync.esplora_reader import EsploraReader
from reservesync.messages.oracle import Network
from reservesync.reserves_evidence import BitcoinReader, EvidenceError, EvmReader, TokenContracts

PROG = "python -m reservesync.verify_reserves"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="VERIFY_")

    api_url: str = Field(
        description="the realtime API's base, e.g. https://host/api/realtime", pattern="^https?://"
    )
    evm_rpc_url: str = Field(description="an EVM JSON-RPC endpoint", pattern="^https?://")
    aggregator: str = Field(
        description="the OracleAggregator's address (it names the rBTC and wrBTC contracts)",
        pattern="^0x[0-9a-fA-F]{40}$",
    )
    bitcoin_rpc_url: str | None = Field(
        None,
        description="a Bitcoin Core or btcd JSON-RPC endpoint (or VERIFY_BITCOIN_ESPLORA_URL)",
        pattern="^https?://",
    )
    bitcoin_esplora_url: str | None = Field(
        None,
        description="an Esplora / mempool.space-compatible HTTP API, e.g. https://host/api "
        "(or VERIFY_BITCOIN_RPC_URL)",
        pattern="^https?://",
    )
    bitcoin_rpc_user: str | None = Field(None, description="its HTTP basic auth user")
    bitcoin_rpc_password: SecretStr | None = Field(None, description="its password")
    bitcoin_network: Network = Field(Network.MAINNET, description="the Bitcoin addresses' network")
    bitcoin_scan_from: int = Field(
        0, ge=0, description="the first Bitcoin block read (no output of the addresses before it)"
    )

    @model_validator(mode="after")
    def _one_bitcoin_source(self) -> Self:
        if (self.bitcoin_rpc_url is None) == (self.bitcoin_esplora_url is None):
            raise ValueError(
                "set exactly one Bitcoin source: VERIFY_BITCOIN_RPC_URL (a node's JSON-RPC) or "
                "VERIFY_BITCOIN_ESPLORA_URL (an Esplora HTTP API)"
            )
        return self

    def bitcoin_reader(self) -> BitcoinReader | EsploraReader:
        if self.bitcoin_esplora_url is not None:
            return EsploraReader(self.bitcoin_esplora_url)
        assert self.bitcoin_rpc_url is not None  # the validator above
        return BitcoinReader(self.bitcoin_rpc_url, auth=self.bitcoin_auth)

    @property
    def bitcoin_auth(self) -> tuple[str, str] | None:
        if self.bitcoin_rpc_user is None or self.bitcoin_rpc_password is None:
            return None
        return self.bitcoin_rpc_user, self.bitcoin_rpc_password.get_secret_value()


class Mismatch(Exception):
    """The proof does not hold; the message says where."""


@dataclass(frozen=True)
class Published:
    root: bytes
    totals: tuple[int, int]
    point: merkle.Point
    as_of: str
    body: dict[str, Any]


def _get(url: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    request = urllib.request.Request(url, headers=headers or {})  # noqa: S310 (a setting)
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
            body: dict[str, Any] = json.loads(answer.read())
    except OSError as exc:
        raise EvidenceError(f"GET {url}: {exc}") from exc
    return body


def published_state(api_url: str) -> Published:
    body = _get(f"{api_url.rstrip('/')}/proof-of-reserves")
    tree = body["merkle"]
    if tree["scheme"] != merkle.SCHEME:
        raise Mismatch(f"the API publishes {tree['scheme']}, this verifier checks {merkle.SCHEME}")
    return Published(
        root=bytes.fromhex(tree["root"][2:]),
        totals=(int(tree["total_sats"]), int(tree["total_btc_sats"])),
        point=merkle.Point(int(tree["evm_block"]), int(tree["btc_height"])),
        as_of=str(body["as_of"]),
        body=body,
    )


class Deriver:
    """A leaf's amounts from the chains at a published (B, H)."""

    def __init__(self, settings: Settings, point: merkle.Point) -> None:
        self.settings = settings
        self.evm = EvmReader(settings.evm_rpc_url, point.evm_block)
        self.bitcoin = settings.bitcoin_reader()
        self.point = point
        self.contracts: TokenContracts = self.evm.contracts(settings.aggregator)

    def btc_of(self, addresses: Sequence[str]) -> int:
        if not addresses:
            return 0
        scripts = {
            bitcoin_address.script_for(a, self.settings.bitcoin_network): a for a in addresses
        }
        held = self.bitcoin.balances(
            scripts, self.point.btc_height, from_height=self.settings.bitcoin_scan_from
        )
        return sum(held.values())

    def holding(self, holder: str, btc_addresses: Sequence[str]) -> merkle.Holding:
        rbtc, wrbtc, synced = self.evm.holding(self.contracts, holder)
        return merkle.Holding(rbtc, wrbtc, synced, self.btc_of(btc_addresses))


def _compare(holder: str, derived: merkle.Holding, proof: dict[str, Any]) -> list[str]:
    fields = ("rbtc_sats", "wrbtc_sats", "synced_sats", "btc_sats")
    return [
        f"{holder} {name}: the chain says {getattr(derived, name)}, the proof says {proof[name]}"
        for name in fields
        if int(proof[name]) != getattr(derived, name)
    ]


def owned_addresses(settings: Settings, holder: str, challenge: str, signature: str) -> list[str]:
    """The holder's verified Bitcoin addresses of the network, as the API shows their owner."""
    query = urllib.parse.urlencode({"address": holder.lower()})
    body = _get(
        f"{settings.api_url.rstrip('/')}/bitcoin-addresses?{query}",
        {"X-Owner-Challenge": challenge, "X-Owner-Signature": signature},
    )
    if not body.get("owner_verified"):
        raise Mismatch(f"the API did not accept the owner proof of {holder}: {body}")
    return [
        str(item["address"])
        for item in body["items"]
        if item["verified_at"] and item["network"] == settings.bitcoin_network.value
    ]


def verify_one(settings: Settings, holder: str, btc_addresses: Sequence[str]) -> str:
    state = published_state(settings.api_url)
    query = urllib.parse.urlencode({"address": holder.lower()})
    proof = _get(f"{settings.api_url.rstrip('/')}/proof-of-reserves/proof?{query}")
    if "leaf_index" not in proof:
        raise Mismatch(f"{holder} has no leaf in the published tree: {proof}")
    if str(proof["as_of"]) != state.as_of:
        raise Mismatch("the API published a newer state between the two reads; run it again")
    deriver = Deriver(settings, state.point)
    derived = deriver.holding(holder, btc_addresses)
    problems = _compare(holder, derived, proof)
    steps = [
        merkle.ProofStep(
            step["side"],
            bytes.fromhex(step["hash"][2:]),
            int(step["sum_sats"]),
            int(step["btc_sats"]),
        )
        for step in proof["path"]
    ]
    address = bytes.fromhex(holder.lower()[2:])
    if not merkle.verify(
        address, state.point, derived, steps, root=state.root, totals=state.totals
    ):
        problems.append(
            f"the leaf derived from the chains does not fold into root {merkle.to_hex(state.root)}"
        )
    if problems:
        raise Mismatch("; ".join(problems))
    return (
        f"verified {holder.lower()} at EVM block {state.point.evm_block} and Bitcoin height "
        f"{state.point.btc_height}: rBTC {derived.rbtc_sats}, wrBTC {derived.wrbtc_sats}, "
        f"synced {derived.synced_sats}, BTC {derived.btc_sats} sats; included in root "
        f"{merkle.to_hex(state.root)}"
    )


def verify_all(settings: Settings, leaves: list[dict[str, Any]]) -> str:
    state = published_state(settings.api_url)
    deriver = Deriver(settings, state.point)
    records = b"".join(
        merkle.record_of(
            bytes.fromhex(str(leaf["address"]).lower()[2:]),
            deriver.holding(str(leaf["address"]), list(leaf.get("btc_addresses", []))),
        )
        for leaf in leaves
    )
    tree = merkle.build(records, state.point)
    supply, _wrbtc = deriver.evm.supply(deriver.contracts)
    problems = []
    if (tree.root, (tree.total, tree.total_assets)) != (state.root, state.totals):
        problems.append(
            f"recomputed root {merkle.to_hex(tree.root)} (liabilities {tree.total}, BTC "
            f"{tree.total_assets}) differs from the published {merkle.to_hex(state.root)} "
            f"({state.totals[0]}, {state.totals[1]})"
        )
    if tree.total != supply:
        problems.append(f"the leaves count {tree.total} sats, rBTC totalSupply is {supply}")
    if problems:
        raise Mismatch("; ".join(problems))
    ratio = f"{tree.total_assets / supply:.6f}" if supply else "none"
    return (
        f"verified {tree.leaf_count} leaves at EVM block {state.point.evm_block} and Bitcoin "
        f"height {state.point.btc_height}: supply {supply} sats, BTC held {tree.total_assets} "
        f"sats, ratio {ratio}, unbacked by BTC {max(0, supply - tree.total_assets)} sats; root "
        f"{merkle.to_hex(tree.root)}"
    )


def _arguments(argv: Sequence[str] | None) -> tuple[argparse.ArgumentParser, argparse.Namespace]:
    command = cli.parser(PROG, __doc__, Settings)
    which = command.add_mutually_exclusive_group(required=True)
    which.add_argument("--address", help="the holder (0x + 40 hex) whose leaf to verify")
    which.add_argument("--all", action="store_true", help="recompute the whole root (--leaves)")
    command.add_argument(
        "--btc-address",
        action="append",
        default=[],
        help="one of the holder's verified Bitcoin addresses (repeat for each)",
    )
    command.add_argument("--leaves", type=Path, help="with --all: the JSON list of every leaf")
    command.add_argument(
        "--owner-challenge", help="a challenge of POST /owner-challenge for --address"
    )
    command.add_argument(
        "--owner-signature", help="its EIP-191 signature by --address's key (0x + 130 hex)"
    )
    args = command.parse_args(argv)
    if (args.owner_challenge is None) != (args.owner_signature is None):
        command.error("--owner-challenge and --owner-signature go together")
    if args.all and args.leaves is None:
        command.error("--all needs --leaves FILE")
    if args.address is not None and not _is_evm_address(args.address):
        command.error(f"--address {args.address!r} is not 0x followed by 40 hex digits")
    return command, args


def _is_evm_address(text: str) -> bool:
    return (
        len(text) == 42
        and text.startswith("0x")
        and all(c in "0123456789abcdefABCDEF" for c in text[2:])
    )


def main(argv: Sequence[str] | None = None) -> int:
    command, args = _arguments(argv)
    settings = cli.load(command, Settings)
    try:
        if args.all:
            leaves = json.loads(args.leaves.read_text())
            print(verify_all(settings, leaves))
        else:
            addresses = list(args.btc_address)
            if args.owner_challenge is not None:
                addresses += owned_addresses(
                    settings, args.address, args.owner_challenge, args.owner_signature
                )
            print(verify_one(settings, args.address, sorted(set(addresses))))
    except bitcoin_address.BadBitcoinAddress as exc:
        command.exit(cli.USAGE_ERROR, f"{PROG}: bad Bitcoin address: {exc}\n")
    except (OSError, ValueError) as exc:
        command.exit(cli.USAGE_ERROR, f"{PROG}: {exc}\n")
    except EvidenceError as exc:
        print(f"{PROG}: cannot verify: {exc}", file=sys.stderr)
        return 1
    except KeyError as exc:
        print(f"{PROG}: cannot verify: the API's answer has no {exc}", file=sys.stderr)
        return 1
    except Mismatch as exc:
        print(f"{PROG}: NOT VERIFIED: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
