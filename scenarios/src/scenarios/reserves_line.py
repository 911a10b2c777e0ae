"""The demo's proof-of-reserves line: what the realtime API publishes once the pipeline has
settled (a reserves snapshot read after the db-writer's last commit), and the row recording it."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import asyncpg

from scenarios.oracle.knowledge import OracleBook, OracleUser

DEMO_API = {"API_RESERVES_MIN_INTERVAL_S": "2"}
"""Three users' tree costs nothing: the demo's API rebuilds it within seconds of a change
(production's default waits a minute between rebuilds while balances keep changing)."""


def _get(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=10) as answer:  # noqa: S310 (the local API)
        body: dict[str, Any] = json.loads(answer.read())
    return body


async def _last_commit(database_url: str) -> datetime:
    connection = await asyncpg.connect(database_url)
    try:
        last: datetime | None = await connection.fetchval(
            "SELECT max(updated_at) FROM sink_offsets"
        )
    finally:
        await connection.close()
    return last or datetime.now(UTC)


async def fresh_line(api_url: str, database_url: str, *, within_s: float = 60) -> str:
    """`database_url`: a role that reads `sink_offsets` (the health service's)."""
    written = await _last_commit(database_url)
    deadline = time.monotonic() + within_s
    url = f"{api_url}/api/realtime/proof-of-reserves"
    while True:
        body = await asyncio.to_thread(_get, url)
        if datetime.fromisoformat(body["as_of"]) >= written:
            break
        if time.monotonic() > deadline:
            raise TimeoutError(f"the API published no new reserves snapshot in {within_s:.0f}s")
        await asyncio.sleep(0.5)
    supply, oracle_btc = body["total_rbtc_sats"], body["total_btc_sats"]
    oracle_ratio = f"{oracle_btc / supply:.6f}" if supply else "None"
    return (
        f"- proof of reserves: {supply:,} sats of rBTC, "
        f"{oracle_btc:,} sats of BTC reported by the oracle (ratio {oracle_ratio}), "
        f"{_bitcoin_side(body)} with the tokens at EVM block {body['evm_block']}, "
        f"{body['unbacked_supply_sats']:,} sats of supply no synced balance backs, Merkle root "
        f"{body['merkle']['root'][:18]}… ({body['merkle']['scheme']}) over {body['users']} "
        f"holders, recorded as proof_of_reserves #{body['attestation_id']}"
    )


def _bitcoin_side(body: Mapping[str, Any]) -> str:
    if not body["btc_height"]:
        return "no Bitcoin balance recorded (the bitcoin-listener has published none)"
    ratio = body["backing_ratio"]
    return (
        f"{body['btc_held_sats']:,} sats of BTC held on Bitcoin at height {body['btc_height']} "
        f"(ratio {ratio if ratio is None else f'{ratio:.6f}'}, {body['status']})"
    )


def _verify(
    env: Mapping[str, str], aggregator: str, scan_from: int, user: OracleUser
) -> subprocess.CompletedProcess[str]:
    settings = {
        "PATH": env.get("PATH", ""),
        "VERIFY_API_URL": f"{env['API_URL']}/api/realtime",
        "VERIFY_EVM_RPC_URL": env["CHAIN_RPC_URL"],
        "VERIFY_AGGREGATOR": aggregator,
        "VERIFY_BITCOIN_RPC_URL": env["BITCOIN_RPC_URL"],
        "VERIFY_BITCOIN_RPC_USER": env["BITCOIN_RPC_USER"],
        "VERIFY_BITCOIN_RPC_PASSWORD": env["BITCOIN_RPC_PASSWORD"],
        "VERIFY_BITCOIN_NETWORK": env["BITCOIN_NETWORK"],
        "VERIFY_BITCOIN_SCAN_FROM": str(scan_from),
    }
    addresses = [f"--btc-address={a.address}" for a in user.bitcoin_addresses]
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "reservesync.verify_reserves",
            "--address",
            user.address,
            *addresses,
        ],
        env=settings,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


async def verified_line(
    env: Mapping[str, str], book: OracleBook, aggregator: str, *, scan_from: int
) -> str:
    """One user's leaf re-derived by the verifier command from the EVM and Bitcoin nodes: the
    largest holder, with every Bitcoin address they verified (as the user would pass their
    own); `scan_from`: the first block that can pay one of them."""
    if not book.users:
        return "- the verifier: no user to verify"
    user = max(book.users.values(), key=lambda member: member.last_synced_sats)
    answer = await asyncio.to_thread(_verify, env, aggregator, scan_from, user)
    said = (answer.stdout if answer.returncode == 0 else answer.stderr).strip().splitlines()
    return (
        f"- `python -m reservesync.verify_reserves --address {user.address} --btc-address …` "
        f"(exit {answer.returncode}): " + (said[-1] if said else "no output")
    )
