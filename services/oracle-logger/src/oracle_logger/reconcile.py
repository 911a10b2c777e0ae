"""`python -m oracle_logger.reconcile`: what the oracle knows and the database lacks, published
so the db-writer closes the gap; no SQL by hand.

It reads the oracle's sealed `/users` and `/operations` (its journal), compares them with the
database through a read-only role, and publishes:
- the state of every user the database lacks, whose imported state is older than the oracle's,
  or one of whose emergency burns is missing (a state carries the user, the Bitcoin addresses and
  the burns; the writer keys each burn as the chain does, so a burn both report is one row);
- every journal operation whose id is not in `oracle_operations_log`.
A second run finds nothing missing and publishes nothing; had it published again, the writer's
idempotency on user, burn key and operation id would still change nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import asyncpg
from pydantic import Field
from pydantic_settings import SettingsConfigDict
from reservesync import cli, oracle_source
from reservesync import logging as structured_logging
from reservesync.identity import burn_key
from reservesync.messages import OracleOperation, OracleUserState
from reservesync.settings import DatabaseSettings, KafkaSettings

from oracle_logger.config import OracleKey
from oracle_logger.intake import MemoryIntake
from oracle_logger.outlets import declare
from oracle_logger.publishing import Publisher

log = logging.getLogger(__name__)


class ReconcileSettings(KafkaSettings, DatabaseSettings, OracleKey):
    """`DATABASE_URL` needs only read access (the health role's is enough)."""

    # compose passes the oracle's settings as "" when .env leaves them empty: that is unset.
    model_config = SettingsConfigDict(env_ignore_empty=True)

    kafka_client_id: str = "oracle-reconcile"
    oracle_users_url: str = Field(description="the oracle's GET /users endpoint")
    oracle_operations_url: str = Field(description="the oracle's GET /operations (its journal)")
    oracle_fetch_timeout_s: float = Field(30.0, gt=0)
    oracle_publish_timeout_s: float = Field(30.0, gt=0)


@dataclass(frozen=True)
class Gaps:
    users_missing: list[str]
    states_behind: list[str]
    burns_missing: list[str]
    operations_missing: list[str]

    @property
    def states_to_publish(self) -> set[str]:
        return {*self.users_missing, *self.states_behind, *self.burns_missing}

    @property
    def closed(self) -> bool:
        return not self.states_to_publish and not self.operations_missing

    def counts(self) -> dict[str, int]:
        return {name: len(values) for name, values in asdict(self).items()}


async def fetch_oracle(
    settings: ReconcileSettings,
) -> tuple[list[OracleUserState], list[OracleOperation]]:
    return await oracle_source.fetch_oracle(
        settings.oracle_users_url,
        settings.oracle_operations_url,
        settings.state_key,
        settings.oracle_fetch_timeout_s,
    )


async def find_gaps(
    db: asyncpg.Connection, states: list[OracleUserState], operations: list[OracleOperation]
) -> Gaps:
    users = [s.user_address for s in states]
    present = {
        r["address"]
        for r in await db.fetch("SELECT address FROM users WHERE address = ANY($1::text[])", users)
    }
    imported = {
        r["user_address"]: r["as_of"]
        for r in await db.fetch(
            "SELECT user_address, as_of FROM oracle_user_states "
            "WHERE user_address = ANY($1::text[])",
            users,
        )
    }
    keys = {
        burn_key(s.user_address, b.tx_hash, b.burned_sats, b.occurred_at): s.user_address
        for s in states
        for b in s.emergency_burns
    }
    burns_present = {
        r["burn_key"]
        for r in await db.fetch(
            "SELECT burn_key FROM emergency_burns WHERE burn_key = ANY($1::text[])", list(keys)
        )
    }
    ids = [o.operation_id for o in operations]
    logged = {
        r["operation_id"]
        for r in await db.fetch(
            "SELECT operation_id FROM oracle_operations_log WHERE operation_id = ANY($1::text[])",
            ids,
        )
    }
    return Gaps(
        users_missing=sorted(set(users) - present),
        states_behind=sorted(
            s.user_address
            for s in states
            if s.user_address not in imported or imported[s.user_address] < s.as_of
        ),
        burns_missing=sorted({user for key, user in keys.items() if key not in burns_present}),
        operations_missing=[i for i in ids if i not in logged],
    )


async def reconcile(
    settings: ReconcileSettings,
    *,
    dry_run: bool = False,
    wait_s: float = 0.0,
    say: Callable[[str], None] = print,
) -> Gaps:
    """The gaps found (and, unless `dry_run`, published); with `wait_s`, also waits up to that
    long for the database to show them closed and returns what is still open."""
    states, operations = await fetch_oracle(settings)
    say(f"oracle: {len(states)} users, {len(operations)} operations in its journal")
    db = await asyncpg.connect(settings.asyncpg_dsn)
    try:
        gaps = await find_gaps(db, states, operations)
        say("missing from the database: " + json.dumps(gaps.counts()))
        if dry_run or gaps.closed:
            return gaps
        await _publish(settings, gaps, states, operations, say)
        deadline = time.monotonic() + wait_s
        remaining = gaps
        while wait_s and not remaining.closed and time.monotonic() < deadline:
            await asyncio.sleep(0.5)
            remaining = await find_gaps(db, states, operations)
        if wait_s:
            say("still missing after the writer caught up: " + json.dumps(remaining.counts()))
        return remaining if wait_s else gaps
    finally:
        await db.close()


async def _publish(
    settings: ReconcileSettings,
    gaps: Gaps,
    states: list[OracleUserState],
    operations: list[OracleOperation],
    say: Callable[[str], None],
) -> None:
    outlets = declare(settings)
    await outlets.broker.start()
    try:
        publisher = Publisher(
            outlets,
            intake=MemoryIntake(max(1, len(operations)), ttl_s=3600),
            timeout_s=settings.oracle_publish_timeout_s,
        )
        wanted = gaps.states_to_publish
        chosen = [s for s in states if s.user_address in wanted]
        await publisher.publish_states(chosen, source="reconcile")
        say(f"published {len(chosen)} user states")
        missing = set(gaps.operations_missing)
        batch = [o for o in operations if o.operation_id in missing]
        step = 500
        for start in range(0, len(batch), step):
            await publisher.publish_operations(batch[start : start + step], source="reconcile")
            say(f"published operations {min(start + step, len(batch))}/{len(batch)}")
    finally:
        await outlets.broker.stop()


async def every(settings: ReconcileSettings, interval_s: float, say: Callable[[str], None]) -> None:
    """Reconcile now and then every `interval_s` until cancelled; a failed round (the oracle
    or the database unreachable) is said and the next one tries again."""
    while True:
        try:
            gaps = await reconcile(settings, say=say)
            if not gaps.closed:
                say("reconciliation published what was missing: " + json.dumps(gaps.counts()))
        except Exception as exc:  # whatever failed, the next round tries again
            say(f"reconciliation failed, next try in {interval_s:.0f}s: {exc!r}")
        await asyncio.sleep(interval_s)


def main(argv: list[str] | None = None) -> int:
    parser = cli.parser("python -m oracle_logger.reconcile", __doc__, ReconcileSettings)
    parser.add_argument("--dry-run", action="store_true", help="report the gaps, publish nothing")
    parser.add_argument(
        "--wait",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="wait up to SECONDS for the database to show the gaps closed; exit 1 if not",
    )
    parser.add_argument(
        "--every",
        type=float,
        metavar="SECONDS",
        help="keep running, reconciling every SECONDS (a compose service); default: once",
    )
    args = parser.parse_args(argv)
    settings = cli.load(parser, ReconcileSettings)
    structured_logging.configure("oracle-reconcile", settings.log_level)
    if args.every:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(every(settings, args.every, log.info))
        return 0
    gaps = asyncio.run(reconcile(settings, dry_run=args.dry_run, wait_s=args.wait))
    return 1 if args.wait and not gaps.closed else 0


if __name__ == "__main__":
    sys.exit(main())
