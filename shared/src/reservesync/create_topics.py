"""`python -m reservesync.create_topics`: create the contract's topics, then the services'
Kafka users and ACLs (`reservesync.kafka_acl`), as the admin; the compose/Kubernetes init job."""

from __future__ import annotations

import argparse
import asyncio
import logging

from reservesync import kafka_acl
from reservesync.kafka import ensure_topics
from reservesync.settings import KafkaSettings
from reservesync.topics import ALL_TOPICS


async def _prepare(settings: KafkaSettings) -> list[str]:
    await ensure_topics(settings)
    return await kafka_acl.provision(settings)


if __name__ == "__main__":
    argparse.ArgumentParser(
        prog="python -m reservesync.create_topics", description=__doc__
    ).parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
    users = asyncio.run(_prepare(kafka_acl.load_settings("create_topics")))
    print("topics ready: " + ", ".join(t.name for t in ALL_TOPICS))
    print(f"kafka users set: {', '.join(users) or 'none'}; ACLs ready")
