"""`python -m docgen.asyncapi [--check]`: the AsyncAPI 3.0 document of the Kafka contract,
written to docs/asyncapi.json (`--check` only says whether the committed file is current).

What a service does with Kafka through FastStream comes from the broker it runs with: the
oracle-logger's publishers (`oracle_logger.outlets.declare`, the objects its app publishes
through) and health's readers of the registry, dead-letter and alert topics
(`health_monitor.source_stream.declare`). What a service does with aiokafka, for what
FastStream does not offer (the chain-listener's Kafka transactions, the db-writer's offsets
stored in Postgres; see docs/architecture.md), is declared here on a broker of its own whose
handlers are never called.
Either way the payloads are the message models each topic carries (`Topic.value_type`), so
nothing about a message is typed twice. FastStream turns the brokers into the document; what its
Kafka API cannot say is then filled in from the same registry (see FASTSTREAM_GAPS, which the
document repeats in its description).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from bitcoin_listener.checkpoint import BitcoinCheckpoint
from chain_listener.checkpoint import Checkpoint
from db_writer.config import SOURCE_TOPICS as WRITER_TOPICS
from db_writer.config import Settings as WriterSettings
from faststream.kafka import KafkaBroker
from faststream.kafka.publisher.usecase import LogicPublisher
from faststream.kafka.subscriber.usecase import LogicSubscriber
from faststream.specification import AsyncAPI
from health_monitor import source_stream
from health_monitor.canary import CanaryMarker
from health_monitor.sources import TOPICS as HEALTH_TOPICS
from oracle_logger import outlets
from reservesync import cli
from reservesync.messages.codec import MESSAGE_TYPES
from reservesync.settings import KafkaSettings
from reservesync.topics import (
    ALERTS,
    ALL_TOPICS,
    BITCOIN_BALANCES,
    BITCOIN_CHECKPOINTS,
    CHAIN_CHECKPOINTS,
    CHAIN_EVENTS,
    DLQ,
    HEALTH_CANARY,
    ORACLE_OPERATIONS,
    ORACLE_STATE,
    REGISTRY,
    Topic,
)

OUTPUT = Path(__file__).resolve().parents[1] / "docs" / "asyncapi.json"
BOOTSTRAP = "kafka:9092"  # the compose stack's address; any cluster has its own
KAFKA_BINDING_VERSION = "0.5.0"

KEYS: dict[str, str] = {
    CHAIN_EVENTS.name: "the event's user address, else the contract address "
    "(ChainEvent.partition_key); reorg notices go to every partition with no key",
    ORACLE_OPERATIONS.name: "the user address",
    ORACLE_STATE.name: "the user address; a record with a null value (tombstone) says the "
    "oracle no longer tracks that user",
    REGISTRY.name: "the contract name",
    DLQ.name: "the key of the record that could not be accepted",
    ALERTS.name: "the alert id (a resolved alert reuses the id it fired with)",
    CHAIN_CHECKPOINTS.name: "'{CHAIN_TRANSACTIONAL_ID}/{CHAIN_ID}': one checkpoint per "
    "listener identity and chain",
    BITCOIN_BALANCES.name: "the Bitcoin address (bech32 lowercase, base58 as it is); a record "
    "with a null value (tombstone) says the address is no longer watched",
    BITCOIN_CHECKPOINTS.name: "'{BITCOIN_TRANSACTIONAL_ID}/{BITCOIN_NETWORK}': one checkpoint "
    "per listener identity and network",
    HEALTH_CANARY.name: "none: one partition, a marker per round trip",
}
"""What each topic is keyed by (SPEC section 3): the key gives per-user ordering."""

FASTSTREAM_GAPS = (
    "Message keys: FastStream's Kafka publishers and subscribers have no key schema, so each "
    "message's `bindings.kafka.key` is added from the registry after generation.",
    "Topic layout: FastStream leaves the channel bindings' partitions and topic configuration "
    "empty; they are added from `reservesync.topics` (partitions, cleanup policy, retention).",
    "Transactions and isolation: the chain-listener publishes each block range, its dead "
    "letters, alerts and checkpoint in one Kafka transaction, and consumers read "
    "`read_committed`; AsyncAPI has no field for either.",
    "Reorg notices (`chain.reorg/v1`) are written to every partition of the chain topic, "
    "which a per-message description can say but no binding expresses.",
    "FastStream gives every message a `correlationId` in a `correlation_id` header. The "
    "oracle-logger publishes through FastStream and sends it (with an empty `content-type` "
    "header: the values are bytes it encoded itself); the producers on aiokafka set no such "
    "header, so it is removed from their messages.",
    "The `schema` field is marked required: the models' JSON schema leaves it optional (the "
    "model fills in its default), but `reservesync.messages.decode` refuses a value without "
    "it, and every producer writes it.",
)


@dataclass(frozen=True)
class KafkaUse:
    """The topics one service publishes to and reads from, and the group it reads in."""

    service: str
    sends: tuple[Topic, ...]
    receives: tuple[Topic, ...] = ()
    group: str | None = None
    note: str = ""
    """Said of the topics it reads."""
    runs: Callable[[], KafkaBroker] | None = None
    """The FastStream broker the service runs with, its publishers and subscribers declared;
    what it does not carry is the service's aiokafka work, declared here."""


SERVICES = (
    KafkaUse(
        "chain-listener",
        sends=(CHAIN_EVENTS, REGISTRY, DLQ, ALERTS, CHAIN_CHECKPOINTS),
        receives=(CHAIN_CHECKPOINTS,),
        note="Reads its own last checkpoint at start, without a consumer group.",
    ),
    KafkaUse(
        "bitcoin-listener",
        sends=(BITCOIN_BALANCES, DLQ, BITCOIN_CHECKPOINTS),
        receives=(ORACLE_STATE, BITCOIN_CHECKPOINTS),
        note="Reads the oracle's state topic whole at each start (the verified addresses to "
        "watch) and its own last checkpoint, without a consumer group; publishes balances, "
        "refused state records and the checkpoint in one Kafka transaction.",
    ),
    KafkaUse(
        "oracle-logger",
        sends=(ORACLE_OPERATIONS, ORACLE_STATE, DLQ),
        runs=lambda: outlets.declare(_settings()).broker,
    ),
    KafkaUse(
        "db-writer",
        sends=(DLQ,),
        receives=tuple(WRITER_TOPICS.values()),
        group=WriterSettings.model_fields["writer_group_id"].default,
        note="Offsets are stored in Postgres with the rows; the Kafka commit only feeds lag tools.",
    ),
    KafkaUse(
        "health",
        sends=(ALERTS, HEALTH_CANARY),
        receives=(
            *HEALTH_TOPICS.values(),
            *(t for t in WRITER_TOPICS.values() if t.name not in HEALTH_TOPICS),
            HEALTH_CANARY,
        ),
        runs=lambda: source_stream.declare(_settings(), _DocumentOnly()).broker,
        note="Reads the registry, dead-letter and alert topics from the beginning, "
        "read_committed and without a consumer group (FastStream subscribers). Of the "
        "writer's topics it reads only the records the writer has not committed yet (their "
        "count and age are the lag); its world is the chain and the oracle, read directly. "
        "The canary is produced in a transaction and read back.",
    ),
)


def _settings() -> KafkaSettings:
    """The defaults, never the environment's credentials: the document must be the same
    wherever it is generated (a shell holding a service's Kafka login included)."""
    return KafkaSettings.model_construct(kafka_bootstrap_servers=BOOTSTRAP)


class _DocumentOnly:
    """The sink of a reader built for the document: its subscribers never start."""

    def take(self, record: source_stream.Record, message: source_stream.Read) -> None:
        raise RuntimeError("a reader built for the AsyncAPI document received a record")


def payload(topic: Topic) -> Any:
    """The type of a topic's record values, from the registry."""
    if topic is CHAIN_CHECKPOINTS:
        return Checkpoint  # the listener's private progress; no shared message model
    if topic is BITCOIN_CHECKPOINTS:
        return BitcoinCheckpoint
    if topic is HEALTH_CANARY:
        return CanaryMarker  # health's own marker, read back by itself
    return topic.value_type()


def _declaration(service: str, topic: Topic) -> Callable[..., Coroutine[Any, Any, None]]:
    async def declared(message: Any) -> None:
        raise RuntimeError(
            f"{service} reads {topic.name} with aiokafka, not FastStream: this handler only "
            "declares the payload for the AsyncAPI document"
        )

    declared.__annotations__ = {"message": payload(topic), "return": None}
    return declared


def carried(broker: KafkaBroker) -> set[tuple[str, str]]:
    """The (direction, topic) pairs a running broker's publishers and subscribers carry."""
    sent = {("send", p.topic) for p in broker.publishers if isinstance(p, LogicPublisher)}
    received = {
        ("receive", topic.name)
        for subscriber in broker.subscribers
        if isinstance(subscriber, LogicSubscriber)
        for topic in subscriber.topics
    }
    return sent | received


def brokers_of(use: KafkaUse) -> list[KafkaBroker]:
    """The service's running broker, if any, and a broker declaring the rest of its use."""
    running = use.runs() if use.runs is not None else None
    on_faststream = carried(running) if running is not None else set()
    declared = KafkaBroker(BOOTSTRAP)
    for topic in use.receives:
        if ("receive", topic.name) not in on_faststream:
            title = f"{use.service}:receive:{topic.name}"
            subscriber = declared.subscriber(topic.name, group_id=use.group, title=title)
            subscriber(_declaration(use.service, topic))
    for topic in use.sends:
        if ("send", topic.name) not in on_faststream:
            title = f"{use.service}:send:{topic.name}"
            declared.publisher(topic.name, title=title, schema=payload(topic))
    return [broker for broker in (running, declared) if broker is not None]


def on_faststream() -> set[str]:
    """The channels (`service:direction:topic`) whose service runs them on FastStream."""
    return {
        f"{use.service}:{direction}:{topic}"
        for use in SERVICES
        if use.runs is not None
        for direction, topic in carried(use.runs())
    }


def _describe(use: KafkaUse, topic: Topic, direction: str) -> str:
    schemas = ", ".join(f"`{m.SCHEMA}`" for m in topic.carries) or "the listener's checkpoint"
    parts = [f"{use.service}: {schemas}. Key: {KEYS[topic.name]}."]
    if direction == "receive":
        if use.group:
            parts.append(f"Consumer group `{use.group}`.")
        parts.append(use.note)
    return " ".join(filter(None, parts))


def document() -> dict[str, Any]:
    spec = AsyncAPI(
        *(broker for use in SERVICES for broker in brokers_of(use)),
        title="ReserveSync Kafka contract",
        version=metadata.version("reservesync-shared"),
        description=_description(),
        schema_version="3.0.0",
    )
    generated: dict[str, Any] = spec.to_specification().to_jsonable()
    _add_registry_facts(generated)
    return _in_stable_order(generated)


def _description() -> str:
    gaps = "\n".join(f"- {gap}" for gap in FASTSTREAM_GAPS)
    return (
        "The topics of SPEC section 3 as the services use them, generated by "
        "`python -m docgen.asyncapi` from FastStream brokers over `reservesync.topics` and the "
        "shared message models: the brokers the oracle-logger publishes through and health "
        "reads its small topics through, and for the "
        "Kafka work that runs on aiokafka one declared per service (docgen/asyncapi.py). "
        "Values are UTF-8 JSON with a `schema` field naming type and version; producers are "
        "idempotent with acks=all.\n\nWhat FastStream cannot express, and how this document "
        f"handles it:\n{gaps}"
    )


def _add_registry_facts(generated: dict[str, Any]) -> None:
    topics = {t.name: t for t in ALL_TOPICS}
    uses = {use.service: use for use in SERVICES}
    running = on_faststream()
    messages = generated["components"]["messages"]
    schemas = generated["components"]["schemas"]
    for model in MESSAGE_TYPES.values():
        if model.__name__ in schemas:
            required = schemas[model.__name__].setdefault("required", [])
            if "schema" not in required:
                required.insert(0, "schema")
    for key, generated_channel in generated["channels"].items():
        service, direction, _ = key.split(":", 2)
        topic = topics[generated_channel["address"]]
        # The description follows the address, where FastStream puts the ones it is given.
        channel: dict[str, Any] = {
            "address": topic.name,
            "description": _describe(uses[service], topic, direction),
        }
        channel |= generated_channel
        generated["channels"][key] = channel
        channel["bindings"]["kafka"] = {
            "topic": topic.name,
            "partitions": topic.partitions,
            "topicConfiguration": _topic_configuration(topic.configs),
            "bindingVersion": KAFKA_BINDING_VERSION,
        }
        for reference in channel["messages"].values():
            message = messages[unquote(reference["$ref"].rsplit("/", 1)[-1])]
            if key not in running or direction != "send":
                message.pop("correlationId", None)
            message["bindings"] = {
                "kafka": {
                    "key": {"type": "string", "description": KEYS[topic.name]},
                    "bindingVersion": KAFKA_BINDING_VERSION,
                }
            }


def _in_stable_order(generated: dict[str, Any]) -> dict[str, Any]:
    """Channels and operations by topic (registry order), then service, then direction;
    components by name. FastStream keeps a broker's publishers in a set, so its own order
    changes with the hash seed, and the committed file must not."""
    topic_rank = {t.name: i for i, t in enumerate(ALL_TOPICS)}
    service_rank = {use.service: i for i, use in enumerate(SERVICES)}

    def channel_rank(key: str) -> tuple[int, int, str]:
        service, direction, topic = key.split(":", 2)
        return topic_rank[topic], service_rank[service], direction

    channels = generated["channels"]
    generated["channels"] = {k: channels[k] for k in sorted(channels, key=channel_rank)}
    operations = generated["operations"]

    def operation_rank(key: str) -> tuple[int, int, str]:
        channel = unquote(operations[key]["channel"]["$ref"].rsplit("/", 1)[-1])
        return channel_rank(channel)

    generated["operations"] = {k: operations[k] for k in sorted(operations, key=operation_rank)}
    for section in ("messages", "schemas"):
        found = generated["components"][section]
        generated["components"][section] = {k: found[k] for k in sorted(found)}
    return generated


def _topic_configuration(configs: dict[str, str]) -> dict[str, Any]:
    """Kafka's string configs as the binding types them (policy list, integer sizes)."""
    typed: dict[str, Any] = {}
    for key, value in configs.items():
        typed[key] = value.split(",") if key == "cleanup.policy" else int(value)
    return typed


def render() -> str:
    return json.dumps(document(), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = cli.parser("python -m docgen.asyncapi", __doc__)
    parser.add_argument("--check", action="store_true", help="fail if the file is stale")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = OUTPUT.is_file() and OUTPUT.read_text() == text
        print(f"{OUTPUT}: {'current' if current else 'stale, run python -m docgen.asyncapi'}")
        return 0 if current else 1
    OUTPUT.write_text(text)
    print(f"wrote {OUTPUT} ({len(text):,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
