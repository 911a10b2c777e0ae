"""`python -m reservesync.create_topics`: create the contract's topics (topics that exist are
left as they are), then the services' Kafka users and ACLs (`reservesync.kafka_acl`), as the
admin; the compose/Kubernetes init job."""

from __future__ import annotations

import asyncio
import logging
import sys

from reservesync import cli, kafka_acl
from reservesync.kafka import ensure_topics
from reservesync.settings import KafkaSettings
from reservesync.topics import ALL_TOPICS


async def _prepare(settings: KafkaSettings) -> list[str]:
    await ensure_topics(settings)
    return await kafka_acl.provision(settings)


def main(argv: list[str] | None = None) -> int:
    settings = cli.parse(
        "python -m reservesync.create_topics", __doc__, kafka_acl.AccessSettings, argv
    )
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
    users = asyncio.run(_prepare(settings))
    print("topics ready: " + ", ".join(t.name for t in ALL_TOPICS))
    print(f"kafka users set: {', '.join(users) or 'none'}; ACLs ready")
    return 0


if __name__ == "__main__":
    sys.exit(main())
