"""FastStream brokers for the services whose Kafka work FastStream carries whole (the
oracle-logger's publishing, health's readers of its small topics).

A broker connects exactly as the aiokafka clients of `reservesync.kafka` do: the same login
(`kafka.credentials`) and, when it produces, the same producer options (`acks=all`,
idempotence). Topics are never created from here: `ensure_topics` makes them with their
partitions and cleanup policies, and a service's principal may not create any.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from faststream._internal.types import BrokerMiddleware
from faststream.kafka import KafkaBroker

from reservesync import kafka
from reservesync.settings import KafkaSettings

log = logging.getLogger(__name__)


def broker(
    settings: KafkaSettings,
    *,
    consumer_only: bool = False,
    middlewares: Sequence[BrokerMiddleware[Any, Any]] = (),
) -> KafkaBroker:
    """A broker authenticated as the settings' principal; `consumer_only` starts no producer
    (and no admin client), for a service that only reads through it."""
    producing = {} if consumer_only else kafka.producer_options()
    return KafkaBroker(
        # aiokafka splits a comma-separated string itself; FastStream takes a list.
        [server.strip() for server in settings.kafka_bootstrap_servers.split(",")],
        client_id=settings.kafka_client_id,
        security=kafka.credentials(settings),
        consumer_only=consumer_only,
        allow_auto_create_topics=False,
        # Records go through the service's own structured logging, not FastStream's handler.
        logger=log,
        # Each record received and processed is logged at this level: not the services' INFO.
        log_level=logging.DEBUG,
        middlewares=middlewares,
        **producing,
    )
