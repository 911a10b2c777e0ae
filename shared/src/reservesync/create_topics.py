"""`python -m reservesync.create_topics`: create the contract's topics (compose/Kubernetes init);
topics that exist are left as they are."""

from __future__ import annotations

import asyncio
import sys

from reservesync import cli
from reservesync.kafka import ensure_topics
from reservesync.settings import KafkaSettings
from reservesync.topics import ALL_TOPICS


def main(argv: list[str] | None = None) -> int:
    settings = cli.parse("python -m reservesync.create_topics", __doc__, KafkaSettings, argv)
    asyncio.run(ensure_topics(settings))
    print("topics ready: " + ", ".join(t.name for t in ALL_TOPICS))
    return 0


if __name__ == "__main__":
    sys.exit(main())
