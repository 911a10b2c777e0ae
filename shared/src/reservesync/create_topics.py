"""`python -m reservesync.create_topics`: create the contract's topics (compose/Kubernetes init)."""

from __future__ import annotations

import asyncio

from reservesync.kafka import ensure_topics
from reservesync.settings import KafkaSettings
from reservesync.topics import ALL_TOPICS

if __name__ == "__main__":
    asyncio.run(ensure_topics(KafkaSettings()))
    print("topics ready: " + ", ".join(t.name for t in ALL_TOPICS))
