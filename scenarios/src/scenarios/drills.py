"""`python -m scenarios.drills`: the seed scenario through the full pipeline while faults are
injected between its steps, then proof that nothing was lost or duplicated.

Injected, in turn: kill -9 of each of the five services (restarted at once, the
oracle-logger only after the next step has started, so the oracle's client must retry), a
Kafka restart, a PostgreSQL restart, and an RPC outage of the listener's node. After each
infrastructure fault the drill acts as the supervisor (Kubernetes, compose's restart policy)
and restarts any service that exited. Verified at the end: every event of the chain is on the
topic exactly once and every money-moving one is a row exactly once; every oracle operation is
logged once; a replay of the topics into an empty database gives the same checksum; the health
score is 100 %. Runs on a new world (use `RESERVESYNC_STACK_DIR` for a stack of its own).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import secrets
import sys
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Mapping

import asyncpg
from db_writer.checksum import combined, database_checksum
from db_writer.config import SOURCE_TOPICS
from db_writer.config import Settings as WriterSettings
from db_writer.replay import replay
from devstack import database, postgres, services, stack
from devstack.database import ENV_KEYS
from devstack.deploy import DeploymentRecord
from devstack.paths import StackSettings, stack_dir
from devstack.procs import StackError
from devstack.protocol import Protocol
from devstack.regtest import BitcoinNode
from devstack.rpc_faults import Faults, FaultyRpcProxy
from devstack.topic_reading import read_all
from pydantic import SecretStr
from reservesync import cli
from reservesync.crypto import FieldCipher
from reservesync.db.migrate import upgrade
from reservesync.topics import CHAIN_EVENTS

from scenarios import health_report, pipeline_settled, pipelines
from scenarios.chain_truth import chain_events
from scenarios.oracle.running import RunningOracle, logger_credentials, running_oracle
from scenarios.oracle.seed import play

ORACLE_ID = "oracle-drill"
OUTAGE_S = 5.0


def say(line: str = "") -> None:
    print(line, flush=True)


class Drill:
    def __init__(
        self, env: dict[str, str], oracle: RunningOracle, proxy: FaultyRpcProxy, token: str
    ) -> None:
        self.env = env
        self.oracle = oracle
        self.proxy = proxy
        self.common = {
            **pipelines.DEMO_CHAIN,
            **logger_credentials(ORACLE_ID, token),
            "ORACLE_USERS_URL": oracle.users_url,
            "ORACLE_OPERATIONS_URL": oracle.operations_url,
            "ORACLE_STATE_KEY": oracle.key.hex(),
            "ORACLE_PULL_INTERVAL_S": "1",
        }
        self.injected: list[str] = []
        self.background: list[asyncio.Task[None]] = []
        self._faults: Iterator[Callable[[], Awaitable[str]]] = iter(
            [
                lambda: self._kill("chain-listener"),
                lambda: self._kill("db-writer"),
                self._kill_oracle_logger,
                lambda: self._kill("health"),
                lambda: self._kill("api"),
                self._restart_kafka,
                self._restart_postgres,
                self._rpc_outage,
            ]
        )

    def overrides(self, name: str) -> dict[str, str]:
        if name == "chain-listener":
            # The listener reads the chain through the proxy that can fail.
            return {**self.common, "CHAIN_RPC_URL": self.proxy.url}
        return self.common

    async def start(self, names: list[str]) -> None:
        for name in names:
            urls = await asyncio.to_thread(services.start, [name], self.overrides(name))
            self.env.update(urls)

    async def next_fault(self) -> None:
        fault = next(self._faults, None)
        if fault is not None:
            what = await fault()
            self.injected.append(what)
            say(f"    injected: {what}")

    async def _kill(self, name: str) -> str:
        await asyncio.to_thread(services.kill, name)
        await self.start([name])
        return f"kill -9 {name}, restarted"

    async def _kill_oracle_logger(self) -> str:
        await asyncio.to_thread(services.kill, "oracle-logger")

        async def later() -> None:
            await asyncio.sleep(2)
            await self.start(["oracle-logger"])

        self.background.append(asyncio.create_task(later()))
        return "kill -9 oracle-logger, restarted 2 s later (the oracle's client retried)"

    async def _restart_kafka(self) -> str:
        await asyncio.to_thread(stack.restart_kafka)
        return "Kafka restarted" + await self._supervise()

    async def _restart_postgres(self) -> str:
        await asyncio.to_thread(postgres.restart)
        return "PostgreSQL restarted" + await self._supervise()

    async def _rpc_outage(self) -> str:
        self.proxy.outage = True

        async def later() -> None:
            await asyncio.sleep(OUTAGE_S)
            self.proxy.outage = False

        self.background.append(asyncio.create_task(later()))
        # What an operator's probe would have seen meanwhile (the listener polls every 0.25 s).
        await asyncio.sleep(min(2.0, OUTAGE_S / 2))
        status, line = await asyncio.to_thread(services.probe, "chain-listener")
        outage = f"the listener's RPC answered 503 for {OUTAGE_S:.0f} s"
        return f"{outage} (its /readyz meanwhile: {status} {line})"

    async def _supervise(self) -> str:
        """Restart what exited, as a supervisor would; say what it had to restart."""
        await asyncio.sleep(3)
        exited = [name for name in services.PIPELINE if not services.running(name)]
        await self.start(exited)
        return f" (restarted after exiting: {', '.join(exited)})" if exited else ""


async def verify(env: Mapping[str, str], oracle: RunningOracle, start_block: int) -> list[str]:
    """What was checked; raises AssertionError on the first check that fails."""
    checked: list[str] = []
    bootstrap = env["KAFKA_BOOTSTRAP_SERVERS"]
    chain = await asyncio.to_thread(chain_events, env, start_block)
    on_topic = Counter(
        document["event_id"]
        for _, value, _, _ in await read_all(bootstrap, CHAIN_EVENTS.name)
        if value is not None and (document := _json(value)).get("schema") == "chain.event/v1"
    )
    twice = [event_id for event_id, n in on_topic.items() if n > 1]
    assert not twice, f"published more than once: {twice[:5]}"
    assert set(on_topic) == {e.event_id for e in chain}, "the topic and the chain differ"
    checked.append(f"{len(chain)} chain events on the topic, each exactly once")

    db = await asyncpg.connect(env[ENV_KEYS["rs_migrator"]])
    try:
        rows = Counter(
            (r["tx_hash"], r["log_index"])
            for r in await db.fetch("SELECT tx_hash, log_index FROM transactions")
        )
        money = {(e.tx_hash, e.log_index) for e in chain if e.moves_money}
        assert set(rows) == money, "transactions rows differ from the chain's money events"
        assert max(rows.values(), default=1) == 1
        checked.append(f"{len(money)} money-moving events, each one transactions row")
        logged = {
            r["operation_id"]
            for r in await db.fetch("SELECT operation_id FROM oracle_operations_log")
        }
        journal = {op.operation_id for op in oracle.book.journal}
        assert logged == journal, f"operations: {len(logged)} logged, {len(journal)} performed"
        checked.append(f"{len(journal)} oracle operations, each logged once")
    finally:
        await db.close()

    checked.append(await _replay_matches(env))
    for worker in ("chain-listener", "db-writer"):
        status, line = await asyncio.to_thread(services.probe, worker)
        assert status == 200, f"{worker} /readyz: {status} {line}"
        checked.append(f"{worker} /readyz 200: {line}")
    report = await health_report.fresh(env["HEALTH_URL"])
    say(report.markdown)
    assert report.score == 100, f"health score {report.score_text}"
    checked.append("health score 100.0%")
    # A broker restart is no rewind: the writers' committed offsets only went forward.
    lag = {group.group: group.status.value for group in report.report.lag}
    assert lag, "health reported no consumer group"
    assert set(lag.values()) == {"OK"}, f"consumer lag after the faults: {lag}"
    checked.append("consumer lag " + ", ".join(f"{g} {s}" for g, s in lag.items()))
    return checked


async def _replay_matches(env: Mapping[str, str]) -> str:
    name = f"reservesync_replay_{secrets.token_hex(3)}"
    admin = env["POSTGRES_ADMIN_URL"]
    await database.create(admin, name)
    try:
        migrator = env[ENV_KEYS["rs_migrator"]].rsplit("/", 1)[0] + f"/{name}"
        writer = env[ENV_KEYS["rs_writer"]].rsplit("/", 1)[0] + f"/{name}"
        await asyncio.to_thread(upgrade, migrator)
        settings = WriterSettings(
            kafka_bootstrap_servers=env["KAFKA_BOOTSTRAP_SERVERS"],
            field_encryption_key=SecretStr(env["FIELD_ENCRYPTION_KEY"]),
        )
        count = await replay(settings, writer)
        cipher = FieldCipher.from_settings(settings)
        live = await database_checksum(env[ENV_KEYS["rs_migrator"]], cipher)
        rebuilt = await database_checksum(migrator, cipher)
        assert rebuilt == live, f"replay differs: {rebuilt} != {live}"
        digest = combined(live)[:16]
        return f"replay of {count} records into an empty database: same checksum ({digest}…)"
    finally:
        connection = await asyncpg.connect(admin)
        try:
            await connection.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        finally:
            await connection.close()


def _json(value: bytes) -> dict[str, object]:
    import json  # noqa: PLC0415

    document: dict[str, object] = json.loads(value)
    return document


async def _run(force: bool) -> int:
    env = dict(await asyncio.to_thread(functools.partial(stack.new_world, force=force)))
    await asyncio.to_thread(upgrade, env[ENV_KEYS["rs_migrator"]])
    record = DeploymentRecord.model_validate_json((stack_dir() / "deployment.json").read_text())
    protocol = Protocol(env["CHAIN_RPC_URL"], record)
    start_block = min(c.deployed_block for c in record.contracts.values())
    token = secrets.token_hex(16)
    async with (
        running_oracle(protocol, BitcoinNode.from_env(env), oracle_id=ORACLE_ID) as oracle,
        FaultyRpcProxy(env["CHAIN_RPC_URL"], Faults()) as proxy,
    ):
        drill = Drill(env, oracle, proxy, token)
        await drill.start(list(services.PIPELINE))
        oracle.start_logging(env["ORACLE_LOGGER_URL"], token)
        say("the seed scenario, with a fault after each step:")
        await play(oracle, protocol, say, after_step=drill.next_fault)
        await asyncio.gather(*drill.background)
        say("settling")
        await pipeline_settled.until_idle(
            env, list(SOURCE_TOPICS), oracle.book.states, within_s=300, say=say
        )
        try:
            checked = await verify(env, oracle, start_block)
        finally:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(services.stop)
    say("\n## Injected")
    say("\n".join(f"- {line}" for line in drill.injected))
    say("\n## Verified")
    say("\n".join(f"- {line}" for line in checked))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = cli.parser("python -m scenarios.drills", __doc__, StackSettings)
    parser.add_argument(
        "--force", action="store_true", help="start a new world even if services of the stack run"
    )
    args = parser.parse_args(argv)
    try:
        return asyncio.run(_run(args.force))
    except StackError as exc:
        print(f"scenarios.drills: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
