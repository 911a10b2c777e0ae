"""`make demo`: the local stack, the five services, and a scenario that makes them work.

For now the scenario is the first vertical slice at the seed's scale: three users pay fee
deposits, the committee syncs their balances (mints and burns), and one user, whose deposit
ran dry, is emergency-burned. Every money-moving event must come out of the chain, through
Kafka, into Postgres; the report shows each stage's count and says whether they agree.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import time
from dataclasses import dataclass, field

import asyncpg
from reservesync.db.migrate import upgrade
from reservesync.topics import CHAIN_EVENTS
from web3.types import TxReceipt

from devstack import envfile, services, stack
from devstack.deploy import DeploymentRecord
from devstack.paths import stack_dir
from devstack.protocol import Protocol

# Events that become `transactions` rows (the emergency burn's balance-only Synced does not).
# Kept apart from db_writer.mapping on purpose: the demo checks the writer's output against the
# chain's own receipts, so it must not derive its expectation from the code it checks.
MONEY_EVENTS = {
    "Deposited",
    "Spent",
    "Withdrawn",
    "EmergencyBurn",
    "Wrapped",
    "Redeemed",
    "Slashed",
    "YieldClaimed",
}
FEE_DEPOSIT_WEI = 10**16  # enough for a few syncs at 1e15 fixed + 1% of the delta


@dataclass
class Scenario:
    users: list[str] = field(default_factory=list)
    receipts: list[TxReceipt] = field(default_factory=list)

    def run(self, protocol: Protocol) -> None:
        """Balances in sats per user and step; user 3 runs out of fee deposit before its
        last (downward) sync, which the contract turns into an emergency burn."""
        plans = [
            [120_000, 180_000, 150_000, 210_000],
            [90_000, 140_000, 100_000],
            [60_000, 95_000, 20_000],
        ]
        deposits = [FEE_DEPOSIT_WEI, FEE_DEPOSIT_WEI, 3 * 10**15]
        for plan, deposit in zip(plans, deposits, strict=True):
            user = protocol.new_user()
            self.users.append(user.lower())
            self.receipts.append(protocol.deposit_fees(user, deposit))
            for balance in plan:
                self.receipts.append(protocol.sync(user, balance))

    def expected_rows(self, protocol: Protocol) -> int:
        """Money-moving events in the receipts, decoded by the contracts' own ABIs."""
        count = 0
        for receipt in self.receipts:
            for log in receipt["logs"]:
                name = protocol.event_name(log)
                if name in MONEY_EVENTS or (
                    name == "Synced" and not protocol.is_emergency_synced(log)
                ):
                    count += 1
        return count


async def _database_view(url: str, users: list[str]) -> dict[str, int]:
    connection = await asyncpg.connect(url)
    try:
        rows = await connection.fetch(
            "SELECT tx_type, count(*) AS n FROM transactions WHERE user_address = ANY($1) "
            "GROUP BY tx_type ORDER BY tx_type",
            users,
        )
        view = {r["tx_type"]: int(r["n"]) for r in rows}
        view["users"] = int(
            await connection.fetchval("SELECT count(*) FROM users WHERE address = ANY($1)", users)
        )
        return view
    finally:
        await connection.close()


async def _topic_size(bootstrap: str) -> int:
    from aiokafka import AIOKafkaConsumer, TopicPartition  # noqa: PLC0415

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        partitions = [TopicPartition(CHAIN_EVENTS.name, p) for p in range(CHAIN_EVENTS.partitions)]
        ends = await consumer.end_offsets(partitions)
        return sum(ends.values())
    finally:
        await consumer.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make demo", description=__doc__)
    parser.add_argument("--once", action="store_true", help="print the report and exit")
    args = parser.parse_args(argv)

    env = stack.up()
    print("applying migrations")
    upgrade(env["DATABASE_URL"])
    print("starting services: " + ", ".join(services.SERVICES))
    urls = services.start()
    env = envfile.read()
    record = DeploymentRecord.model_validate_json((stack_dir() / "deployment.json").read_text())
    protocol = Protocol(env["CHAIN_RPC_URL"], record)

    print("running the scenario on the chain (3 users, deposits, mints, burns, emergency burn)")
    scenario = Scenario()
    scenario.run(protocol)
    expected = scenario.expected_rows(protocol)

    deadline = time.monotonic() + 60
    view: dict[str, int] = {}
    while time.monotonic() < deadline:
        view = asyncio.run(_database_view(env["DATABASE_URL"], scenario.users))
        if sum(v for k, v in view.items() if k != "users") >= expected:
            break
        time.sleep(0.5)
    written = sum(v for k, v in view.items() if k != "users")
    complete = written == expected and view.get("users") == len(scenario.users)

    print()
    print("## What flowed")
    print(
        f"- chain: {len(scenario.receipts)} transactions, {expected} money-moving events "
        f"(chain {record.chain_id}, contracts in .stack/deployment.json)"
    )
    print(
        f"- kafka: {asyncio.run(_topic_size(env['KAFKA_BOOTSTRAP_SERVERS']))} records on "
        f"{CHAIN_EVENTS.name} (all runs so far)"
    )
    print(
        f"- postgres: {written} transactions rows for this run's users: "
        + ", ".join(f"{k} {v}" for k, v in sorted(view.items()) if k != "users")
    )
    print(f"- users: {view.get('users', 0)} of {len(scenario.users)}")
    print(f"- result: {'COMPLETE' if complete else 'INCOMPLETE'}")
    print()
    print(
        "Where things are: endpoints in .stack/env, logs in .stack/logs/, "
        '`psql "$DATABASE_URL"` after `set -a; . .stack/env`.'
    )
    for key, url in urls.items():
        print(f"- {key}: {url}")
    if args.once:
        services.stop()
        return 0 if complete else 1

    print("\nrunning until interrupted (Ctrl-C); the stack stays up, `make stack-down` ends it")
    stop = False

    def interrupted(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGINT, interrupted)
    signal.signal(signal.SIGTERM, interrupted)
    while not stop:
        time.sleep(1)
    services.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
