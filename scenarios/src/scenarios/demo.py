"""`make demo`: the seed's world on a fresh local stack, first through the seed's pipeline, then
through ours, with the health report of each: 68.4 % by the seed's own check (55.6 % against the
world) → 100 %. The seed's check counted what its narrow pipeline published; health reads the
chain itself and counts the transactions that pipeline skipped as missing.

1. A new world: fresh chain with the six contracts, empty topics and database, migrations.
2. The oracle (in this process): it reads confirmed balances from the stack's regtest btcd,
   serves its sealed `/users` and `/operations`, and syncs balances on chain as the committee;
   the simulator holds its users' keys and moves their coins with real transactions.
3. The seed's pipeline: the listener indexes only `Synced`, the writer takes only chain events
   and the registry, the oracle does not log its operations. The seed scenario runs; report.
4. Ours: the events the narrow listener skipped are backfilled, the listener widened, the
   writer takes every topic, the oracle logs, and reconciliation publishes what the database
   still lacks of the oracle's world; the bitcoin-listener follows the regtest chain for every
   verified address; report, and the proof of reserves against Bitcoin itself.
5. `--once`: exit 0 only at 100 %. Otherwise the oracle keeps syncing every few seconds and
   the services keep running until Ctrl-C.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import secrets
import signal
import sys
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass

from db_writer.config import SOURCE_TOPICS
from devstack import envfile, services, stack
from devstack.database import ENV_KEYS
from devstack.deploy import DeploymentRecord
from devstack.paths import StackSettings, stack_dir
from devstack.procs import StackError
from devstack.protocol import Protocol
from devstack.regtest import BitcoinNode
from devstack.supervisor import Supervisor
from oracle_logger.reconcile import ReconcileSettings, reconcile
from pydantic import SecretStr
from reservesync import cli
from reservesync.contracts import SystemContract
from reservesync.db.migrate import upgrade

from scenarios import (
    bitcoin_settled,
    health_report,
    pipeline_settled,
    pipelines,
    reserves_line,
    seed_check,
)
from scenarios.oracle.running import RunningOracle, logger_credentials, running_oracle
from scenarios.oracle.seed import SEED, play

ORACLE_ID = "oracle-1"
ORACLE_INTERVAL_S = 5.0


def say(line: str = "") -> None:
    print(line, flush=True)


def _oracle_logger_env(oracle: RunningOracle, token: str) -> dict[str, str]:
    return {
        **logger_credentials(ORACLE_ID, token),
        "ORACLE_USERS_URL": oracle.users_url,
        "ORACLE_OPERATIONS_URL": oracle.operations_url,
        "ORACLE_STATE_KEY": oracle.key.hex(),
        "ORACLE_PULL_INTERVAL_S": "1",
    }


async def _report(env: Mapping[str, str], title: str) -> health_report.HealthVerdict:
    report = await health_report.fresh(env["HEALTH_URL"], quiet=True)
    say(f"\n## {title}: {report.score_text}\n")
    say(report.markdown)
    return report


Started = dict[str, dict[str, str]]
"""Each running service with the settings it was started with (the supervisor's restarts)."""


async def _legacy_phase(
    env: dict[str, str], oracle: RunningOracle, protocol: Protocol, token: str, started: Started
) -> LegacyVerdict:
    say("\n# 1. The seed's pipeline: only Synced indexed, the oracle's side never imported")
    legacy = {
        **pipelines.DEMO_CHAIN,
        **pipelines.LEGACY,
        **reserves_line.DEMO_API,
        **_oracle_logger_env(oracle, token),
        # The legacy state's alerts resolve within seconds once ours has fixed it.
        "HEALTH_ALERT_RESOLVE_AFTER_S": "10",
    }
    urls = await asyncio.to_thread(services.start, services.PIPELINE, legacy)
    started.update(dict.fromkeys(services.PIPELINE, legacy))
    env.update(urls)
    say("services: " + ", ".join(f"{k}={v}" for k, v in sorted(urls.items())))
    say("the seed scenario, the oracle not logging its operations:")
    await play(oracle, protocol, say)
    await pipeline_settled.until_idle(
        env, pipelines.LEGACY_WRITER_TOPICS, oracle.book.states, say=say
    )
    verdict = await _report(env, "Health with the seed's pipeline")
    published = await seed_check.published_transactions(env["KAFKA_BOOTSTRAP_SERVERS"])
    check = seed_check.seed_score(verdict.report, published)
    say(
        f"The seed's own check of the same database says {check.score_text}: it counted the "
        f"{check.published_transactions} transactions its pipeline published, not the "
        f"{check.world_transactions} the chain's logs hold (deposits, fee payments and "
        "emergency burns its listener skipped)."
    )
    return LegacyVerdict(verdict, check)


@dataclass(frozen=True)
class LegacyVerdict:
    world: health_report.HealthVerdict
    seed: seed_check.SeedCheck


async def _our_phase(
    env: dict[str, str], oracle: RunningOracle, token: str, start_block: int, started: Started
) -> health_report.HealthVerdict:
    say("\n# 2. Our pipeline: backfill, widen, log, reconcile")
    await asyncio.to_thread(services.stop, ["chain-listener", "db-writer"])
    end = await pipelines.published_through(env)
    await pipelines.backfill_skipped(env, start_block, end, say)
    await asyncio.to_thread(services.start, ["chain-listener", "db-writer"], pipelines.DEMO_CHAIN)
    started.update({"chain-listener": pipelines.DEMO_CHAIN, "db-writer": pipelines.DEMO_CHAIN})
    say("  listener widened to every event; writer on every topic (the oracle's from the start)")
    following = pipelines.bitcoin_following(oracle.bitcoin)
    await asyncio.to_thread(services.start, ["bitcoin-listener"], following)
    started["bitcoin-listener"] = following
    say(
        "  the bitcoin-listener follows the regtest chain for every verified address "
        f"({oracle.bitcoin.confirmations} confirmations)"
    )
    oracle.start_logging(env["ORACLE_LOGGER_URL"], token)
    say("  the oracle now logs every operation to the oracle-logger")
    await pipeline_settled.until_idle(env, list(SOURCE_TOPICS), oracle.book.states, say=say)
    settings = ReconcileSettings(
        kafka_bootstrap_servers=env["KAFKA_BOOTSTRAP_SERVERS"],
        database_url=SecretStr(env[ENV_KEYS["rs_health"]]),
        oracle_users_url=oracle.users_url,
        oracle_operations_url=oracle.operations_url,
        oracle_state_key=SecretStr(oracle.key.hex()),
    )
    say("  reconciliation (python -m oracle_logger.reconcile):")
    await reconcile(settings, wait_s=120, say=lambda line: say(f"    {line}"))
    height = await oracle.bitcoin.confirmed_height()
    verified = sum(len(state.bitcoin_addresses) for state in oracle.book.states())
    await bitcoin_settled.until_published(height, verified, say=say)
    await pipeline_settled.until_idle(env, list(SOURCE_TOPICS), oracle.book.states, say=say)
    return await _report(env, "Health with our pipeline")


async def _run(once: bool, force: bool) -> int:
    env = dict(await asyncio.to_thread(functools.partial(stack.new_world, force=force)))
    say("applying migrations")
    await asyncio.to_thread(upgrade, env[ENV_KEYS["rs_migrator"]])
    record = DeploymentRecord.model_validate_json((stack_dir() / "deployment.json").read_text())
    protocol = Protocol(env["CHAIN_RPC_URL"], record)
    start_block = min(c.deployed_block for c in record.contracts.values())
    token = secrets.token_hex(16)
    node = BitcoinNode.from_env(env)
    async with (
        running_oracle(protocol, node, oracle_id=ORACLE_ID) as oracle,
        _published(oracle),
    ):
        say(
            f"oracle {ORACLE_ID}: state at {oracle.users_url} (sealed), Bitcoin from the "
            f"regtest node at {node.rpc_url} from height {oracle.bitcoin.from_height}"
        )
        started: Started = {}
        legacy = await _legacy_phase(env, oracle, protocol, token, started)
        ours = await _our_phase(env, oracle, token, start_block, started)
        reserves = await reserves_line.fresh_line(env["API_URL"], env[ENV_KEYS["rs_health"]])
        aggregator = record.contracts[SystemContract.ORACLE_AGGREGATOR].address
        verified = await reserves_line.verified_line(
            env, oracle.book, aggregator, scan_from=oracle.bitcoin.from_height
        )
        reserves = f"{reserves}\n{verified}"
        _summary(env, legacy, ours, reserves)
        if once:
            await asyncio.to_thread(services.stop)
            return 0 if ours.score == 100 else 1
        await _keep_running(oracle, started)
    return 0


@contextlib.asynccontextmanager
async def _published(oracle: RunningOracle) -> AsyncIterator[None]:
    """While the oracle runs, `.stack/env` says where it is and how to open its sealed answers,
    so `python -m oracle_logger.reconcile` can be run by hand against it."""
    keys = {
        "ORACLE_USERS_URL": oracle.users_url,
        "ORACLE_OPERATIONS_URL": oracle.operations_url,
        "ORACLE_STATE_KEY": oracle.key.hex(),
    }
    envfile.update(keys)
    try:
        yield
    finally:
        envfile.update(dict.fromkeys(keys, ""))


def _summary(
    env: Mapping[str, str],
    legacy: LegacyVerdict,
    ours: health_report.HealthVerdict,
    reserves: str,
) -> None:
    say("\n## Result")
    say(
        f"- the seed's pipeline: {legacy.seed.score_text} by its own check, "
        f"{legacy.world.score_text} against the world; ours: {ours.score_text}"
    )
    say(
        f"- the scenario: {SEED.users} users, {SEED.bitcoin_addresses_verified} Bitcoin addresses "
        f"({SEED.bitcoin_addresses_monitored} monitored), {SEED.mints} mints, {SEED.burns} burns, "
        f"{SEED.emergency_burns} emergency burns ({SEED.emergency_burned_sats:,} sats), "
        f"{SEED.synced_sats:,} sats synced"
    )
    say(reserves)
    say(f"- dashboard: {env['HEALTH_URL']}/   health JSON: {env['HEALTH_URL']}/v1/health")
    say(f"- realtime API: {env['API_URL']}/docs")
    say(
        '- data: `set -a; . .stack/env; psql "$DATABASE_URL"`; logs in .stack/logs/; '
        "contracts in .stack/deployment.json"
    )
    say("- reconcile by hand: `set -a; . .stack/env; python -m oracle_logger.reconcile --dry-run`")


async def _keep_running(oracle: RunningOracle, started: Started) -> None:
    say(
        f"\nrunning until interrupted (Ctrl-C); the oracle syncs every {ORACLE_INTERVAL_S:.0f}s; "
        "a service that exits is restarted"
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await asyncio.gather(
        oracle.simulator.run(ORACLE_INTERVAL_S, stop), Supervisor(started, say).run(stop)
    )
    say("stopping the services")
    await asyncio.to_thread(services.stop)
    say(STILL_RUNNING)


STILL_RUNNING = (
    "the services are stopped; Kafka, PostgreSQL and the chain are still running (the next "
    "`make demo` reuses them): `make stack-down` stops them"
)


def main(argv: list[str] | None = None) -> int:
    parser = cli.parser("python -m scenarios.demo", __doc__, StackSettings)
    parser.add_argument("--once", action="store_true", help="print the reports and exit")
    parser.add_argument(
        "--force", action="store_true", help="start a new world even if services of the stack run"
    )
    args = parser.parse_args(argv)
    try:
        return asyncio.run(_run(args.once, args.force))
    except StackError as exc:
        print(f"scenarios.demo: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        # Interrupted before the services ran on their own: they would be left orphaned.
        say("\ninterrupted: stopping the services")
        services.stop()
        say(STILL_RUNNING)
        return 130


if __name__ == "__main__":
    sys.exit(main())
