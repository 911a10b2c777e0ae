"""Who may do what on Kafka: one principal per service, least privilege (docs/architecture.md,
"Kafka principals"). This table is the only place the rights are written; `apply` makes the
broker hold exactly them (idempotent), `python -m reservesync.kafka_acl` runs it as an init job.

Adding a topic a service produces or reads is one name in its row; a new service is one row.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Mapping
from dataclasses import dataclass

from pydantic import SecretStr, create_model

from reservesync import cli, kafka
from reservesync.kafka_access import (
    Binding,
    Operation,
    PatternType,
    ResourceType,
    differences,
    grant,
    granted,
    revoke,
    set_passwords,
)
from reservesync.settings import KafkaSettings
from reservesync.topics import (
    ALERTS,
    BITCOIN_BALANCES,
    BITCOIN_CHECKPOINTS,
    CHAIN_CHECKPOINTS,
    CHAIN_EVENTS,
    DLQ,
    HEALTH_CANARY,
    ORACLE_OPERATIONS,
    ORACLE_STATE,
    REGISTRY,
)

log = logging.getLogger(__name__)

ADMIN = "admin"
"""The super user (`super.users=User:admin`): topic creation, these ACLs, tools and tests."""

EVERY_TOPIC_PREFIX = "rbtc."


@dataclass(frozen=True)
class Principal:
    name: str
    produces: tuple[str, ...] = ()
    reads: tuple[str, ...] = ()
    reads_prefix: str | None = None
    """Read every topic whose name starts with this (health reads them all)."""
    group_prefix: str | None = None
    """Consumer groups it may join and commit in (its WRITER_GROUP_ID must start with it)."""
    transactional_id_prefix: str | None = None
    describes_groups: bool = False
    """May read every group's committed offsets (health's lag)."""

    def bindings(self) -> set[Binding]:
        def rule(kind: ResourceType, name: str, op: Operation, prefixed: bool) -> Binding:
            pattern = PatternType.PREFIXED if prefixed else PatternType.LITERAL
            return Binding(self.name, kind, name, pattern, op)

        found = {rule(ResourceType.TOPIC, t, Operation.WRITE, False) for t in self.produces}
        found |= {rule(ResourceType.TOPIC, t, Operation.READ, False) for t in self.reads}
        if self.reads_prefix is not None:
            found.add(rule(ResourceType.TOPIC, self.reads_prefix, Operation.READ, True))
        if self.group_prefix is not None:
            found.add(rule(ResourceType.GROUP, self.group_prefix, Operation.READ, True))
        if self.transactional_id_prefix is not None:
            tid = self.transactional_id_prefix
            found.add(rule(ResourceType.TRANSACTIONAL_ID, tid, Operation.WRITE, True))
        if self.describes_groups:
            found.add(rule(ResourceType.GROUP, "*", Operation.DESCRIBE, False))
        return found


PRINCIPALS: dict[str, Principal] = {
    p.name: p
    for p in (
        Principal(
            "chain-listener",
            produces=(
                CHAIN_EVENTS.name,
                REGISTRY.name,
                CHAIN_CHECKPOINTS.name,
                DLQ.name,
                ALERTS.name,
            ),
            reads=(CHAIN_CHECKPOINTS.name,),
            transactional_id_prefix="chain-listener",
        ),
        Principal("oracle-logger", produces=(ORACLE_OPERATIONS.name, ORACLE_STATE.name, DLQ.name)),
        Principal(
            "db-writer",
            produces=(DLQ.name,),
            reads=(
                CHAIN_EVENTS.name,
                ORACLE_OPERATIONS.name,
                ORACLE_STATE.name,
                REGISTRY.name,
                BITCOIN_BALANCES.name,
            ),
            group_prefix="rbtc-db-writer",
        ),
        Principal(
            "health",
            # Its canary goes round the brokers in transactions of its own.
            produces=(ALERTS.name, HEALTH_CANARY.name),
            reads_prefix=EVERY_TOPIC_PREFIX,
            describes_groups=True,
            transactional_id_prefix="health-canary",
        ),
        Principal(
            "bitcoin-listener",
            produces=(BITCOIN_BALANCES.name, BITCOIN_CHECKPOINTS.name, DLQ.name),
            reads=(ORACLE_STATE.name, BITCOIN_CHECKPOINTS.name),
            transactional_id_prefix="bitcoin-listener",
        ),
    )
}
"""The api reads no Kafka topic, so it has no principal."""


USER_MECHANISM = "SCRAM-SHA-512"
"""How the services authenticate. The admin may connect otherwise (compose: PLAIN, a static
user of the broker's configuration, since SCRAM users can only be made by a connected admin)."""


def password_env(principal: str) -> str:
    """The environment variable holding a principal's password for the init job and the local
    stack's `.stack/env` (e.g. `DB_WRITER_KAFKA_SASL_PASSWORD`); a service itself reads its
    own as `KAFKA_SASL_PASSWORD`."""
    return principal.upper().replace("-", "_") + "_KAFKA_SASL_PASSWORD"


AccessSettings: type[KafkaSettings] = create_model(
    "AccessSettings",
    __base__=KafkaSettings,
    __doc__="The admin's connection, and the password of each principal to create or reset "
    "(`<PRINCIPAL>_KAFKA_SASL_PASSWORD`; unset or empty: the user keeps its password).",
    **{password_env(name).lower(): (SecretStr | None, None) for name in PRINCIPALS},  # type: ignore[call-overload]
)


def passwords_from(settings: KafkaSettings) -> dict[str, str]:
    """principal -> password, for the principals `settings` (an AccessSettings) names one."""
    found = {}
    for name in PRINCIPALS:
        secret = getattr(settings, password_env(name).lower(), None)
        if isinstance(secret, SecretStr) and secret.get_secret_value():
            found[name] = secret.get_secret_value()
    return found


async def apply(
    settings: KafkaSettings,
    passwords: Mapping[str, str],
    principals: Mapping[str, Principal] = PRINCIPALS,
) -> None:
    """Set the given users' passwords, then make each principal's ACLs exactly its row."""
    admin = kafka.admin(settings)
    await admin.start()
    try:
        await set_passwords(admin, passwords, USER_MECHANISM)
        for principal in principals.values():
            missing, extra = differences(principal.bindings(), await granted(admin, principal.name))
            for binding in missing:
                await grant(admin, binding)
                log.info("granted", extra={"acl": str(binding)})
            for binding in extra:
                await revoke(admin, binding)
                log.info("revoked", extra={"acl": str(binding)})
    finally:
        await admin.close()


async def provision(settings: KafkaSettings) -> list[str]:
    """Users and ACLs from `settings` (an AccessSettings); returns the users it set."""
    passwords = passwords_from(settings)
    await apply(settings, passwords)
    return sorted(passwords)


def main(argv: list[str] | None = None) -> int:
    settings = cli.parse(
        "python -m reservesync.kafka_acl",
        "Create or reset the SCRAM users of the services (their passwords from "
        "<PRINCIPAL>_KAFKA_SASL_PASSWORD, e.g. DB_WRITER_KAFKA_SASL_PASSWORD; a principal "
        "without one keeps its password) and set each principal's ACLs to its row of the "
        "table in reservesync.kafka_acl. Connects as the admin principal "
        "(KAFKA_SASL_USERNAME / KAFKA_SASL_PASSWORD).",
        AccessSettings,
        argv,
    )
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
    users = asyncio.run(provision(settings))
    print(f"kafka users set: {', '.join(users) or 'none'}")
    print(f"kafka ACLs ready for: {', '.join(PRINCIPALS)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
