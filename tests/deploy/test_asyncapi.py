"""docs/asyncapi.json: generated from the FastStream brokers the services run with and the
declarations in docgen/asyncapi.py, current, complete over reservesync.topics, and in step with
the code of the services it describes."""

from __future__ import annotations

import ast
import json
from typing import Any
from urllib.parse import unquote

import pytest
from health_monitor import source_stream
from oracle_logger import outlets
from reservesync import topics
from reservesync.messages import Message
from reservesync.settings import KafkaSettings
from reservesync.topics import ALL_TOPICS, Topic

from docgen import asyncapi
from tests.deploy.support.workspace import ROOT, service_module, service_names


def committed() -> dict[str, Any]:
    assert asyncapi.OUTPUT.is_file(), f"{asyncapi.OUTPUT} is missing: python -m docgen.asyncapi"
    loaded: dict[str, Any] = json.loads(asyncapi.OUTPUT.read_text())
    return loaded


def resolve(document: dict[str, Any], reference: str) -> dict[str, Any]:
    node: Any = document
    for part in reference.removeprefix("#/").split("/"):
        node = node[unquote(part)]
    assert isinstance(node, dict)
    return node


def refs(node: object) -> set[str]:
    if isinstance(node, dict):
        found = {node["$ref"]} if isinstance(node.get("$ref"), str) else set()
        return found.union(*(refs(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(refs(v) for v in node))
    return set()


def test_the_committed_document_is_what_the_generator_writes() -> None:
    assert asyncapi.OUTPUT.read_text() == asyncapi.render(), (
        "docs/asyncapi.json is stale: run `python -m docgen.asyncapi` and commit the result"
    )
    assert committed()["asyncapi"].startswith("3.")


def test_the_document_ignores_the_shells_kafka_login(monkeypatch: pytest.MonkeyPatch) -> None:
    """Generated in a shell that holds a service's login (as `.stack/env` gives one), the
    document is still the committed one."""
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT")
    monkeypatch.setenv("KAFKA_SASL_USERNAME", "oracle-logger")
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", "not-a-real-password")
    assert asyncapi.render() == asyncapi.OUTPUT.read_text()


@pytest.mark.parametrize("topic", ALL_TOPICS, ids=lambda t: t.name)
def test_every_topic_appears_with_its_schemas_and_layout(topic: Topic) -> None:
    document = committed()
    channels = [c for c in document["channels"].values() if c["address"] == topic.name]
    assert channels, f"{topic.name} is in reservesync.topics but not in docs/asyncapi.json"
    models = topic.carries or (asyncapi.payload(topic),)
    on_faststream = asyncapi.on_faststream()
    for key, channel in document["channels"].items():
        if channel["address"] != topic.name:
            continue
        binding = channel["bindings"]["kafka"]
        assert binding["partitions"] == topic.partitions
        policy = binding["topicConfiguration"]["cleanup.policy"]
        assert policy == topic.configs["cleanup.policy"].split(",")
        for reference in channel["messages"].values():
            message = resolve(document, reference["$ref"])
            assert message["bindings"]["kafka"]["key"]["description"] == asyncapi.KEYS[topic.name]
            payload = resolve(document, message["payload"]["$ref"])
            named = {r.rsplit("/", 1)[-1] for r in refs(payload) | {message["payload"]["$ref"]}}
            missing = {m.__name__ for m in models} - named
            assert not missing, f"{channel['address']}: payload lacks {sorted(missing)}"
            # Only FastStream's publishers write the header the correlationId points to.
            sent_by_faststream = key in on_faststream and ":send:" in key
            assert ("correlationId" in message) == sent_by_faststream, key


def test_message_schemas_are_the_models_own() -> None:
    """The payload schemas are pydantic's schema of the shared models, not a retyped copy."""
    schemas = committed()["components"]["schemas"]
    for topic in ALL_TOPICS:
        for model in topic.carries or (asyncapi.payload(topic),):
            expected = model.model_json_schema(ref_template="#/components/schemas/{model}")
            expected.pop("$defs", None)
            if issubclass(model, Message):
                expected["required"] = ["schema", *expected.get("required", [])]
            assert schemas[model.__name__] == expected, f"{model.__name__} differs from its model"


def test_state_tombstones_and_reorg_notices_are_stated() -> None:
    document = committed()
    state_payloads = [
        resolve(document, resolve(document, ref["$ref"])["payload"]["$ref"])
        for channel in document["channels"].values()
        if channel["address"] == topics.ORACLE_STATE.name
        for ref in channel["messages"].values()
    ]
    for payload in state_payloads:
        assert {"type": "null"} in payload["anyOf"], "the state topic's tombstones (null values)"
    assert "every partition" in asyncapi.KEYS[topics.CHAIN_EVENTS.name]


def test_the_oracle_loggers_channels_are_the_publishers_it_runs_with() -> None:
    """The oracle-logger's part of the document comes from the broker its app publishes
    through, publisher by publisher, each typed with its topic's message models."""
    running = outlets.declare(KafkaSettings(kafka_bootstrap_servers=asyncapi.BOOTSTRAP))
    publishers = [
        (topics.ORACLE_OPERATIONS, running.operations),
        (topics.ORACLE_STATE, running.states),
        (topics.DLQ, running.dead_letters),
    ]
    assert sorted(map(id, running.broker.publishers)) == sorted(id(p) for _, p in publishers)
    (use,) = [u for u in asyncapi.SERVICES if u.service == outlets.SERVICE]
    assert [t.name for t in use.sends] == [t.name for t, _ in publishers]
    assert not use.receives
    document = committed()
    for topic, publisher in publishers:
        key = f"oracle-logger:send:{topic.name}"
        assert key in asyncapi.on_faststream()
        channel = document["channels"][key]
        assert channel["address"] == publisher.topic == topic.name
        (reference,) = channel["messages"].values()
        message = resolve(document, reference["$ref"])
        payload = resolve(document, message["payload"]["$ref"])
        named = {r.rsplit("/", 1)[-1] for r in refs(payload) | {message["payload"]["$ref"]}}
        assert {m.__name__ for m in topic.carries} <= named


class _Unused:
    def take(self, record: source_stream.Record, message: source_stream.Read) -> None:
        raise AssertionError("never started")


def test_healths_source_channels_are_the_subscribers_it_reads_with() -> None:
    """Health's channels of the registry, DLQ and alert topics come from the subscribers its
    reader runs (one per topic), not from a declaration beside them."""
    settings = KafkaSettings(kafka_bootstrap_servers=asyncapi.BOOTSTRAP)
    sources = source_stream.declare(settings, _Unused())
    read = [topic.name for subscriber in sources.subscribers for topic in subscriber.topics]
    assert sorted(read) == sorted(source_stream.TOPICS)
    document = committed()
    for name in read:
        key = f"health:receive:{name}"
        assert key in asyncapi.on_faststream()
        (reference,) = document["channels"][key]["messages"].values()
        message = resolve(document, reference["$ref"])
        payload = message["payload"]["$ref"].rsplit("/", 1)[-1]
        assert {m.__name__ for m in source_stream.TOPICS[name].carries} == {payload}


def imports(service: str) -> list[ast.Import | ast.ImportFrom]:
    """The import statements of a service's code."""
    source = ROOT / "services" / service / "src" / service_module(service)
    return [
        node
        for path in source.rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Import | ast.ImportFrom)
    ]


def referenced_topics(service: str) -> set[str]:
    """Topics of reservesync.topics a service's code imports by name."""
    names = {
        alias.name
        for node in imports(service)
        if isinstance(node, ast.ImportFrom) and node.module == "reservesync.topics"
        for alias in node.names
    }
    return {value.name for name in names if isinstance(value := getattr(topics, name, None), Topic)}


def kafka_clients(service: str) -> set[str]:
    """The Kafka client modules a service's code imports (aiokafka, reservesync.kafka)."""
    found = set()
    for node in imports(service):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif node.module == "reservesync":
            modules = [f"reservesync.{alias.name}" for alias in node.names]
        else:
            modules = [node.module or ""]
        found |= {m for m in modules if m == "reservesync.kafka" or m.split(".")[0] == "aiokafka"}
    return found


def test_the_document_describes_workspace_services() -> None:
    """Each service of SERVICES is one of services/*, once: a misspelt or doubled entry would
    escape the check below."""
    named = [use.service for use in asyncapi.SERVICES]
    assert len(named) == len(set(named)), f"SERVICES names a service twice: {named}"
    unknown = sorted(set(named) - set(service_names()))
    assert not unknown, f"SERVICES names {unknown}, which are not services/* of the workspace"


@pytest.mark.parametrize("service", service_names())
def test_each_services_topics_match_its_code(service: str) -> None:
    """Every service of the workspace: one with no SERVICES entry (the api, which reads the
    database only) declares no topic, so its code must import none."""
    uses = [u for u in asyncapi.SERVICES if u.service == service]
    declared = {t.name for use in uses for t in (*use.sends, *use.receives)}
    undeclared = referenced_topics(service) - declared
    assert not undeclared, (
        f"{service}'s code uses {sorted(undeclared)}, which docgen/asyncapi.py SERVICES does "
        "not list for it"
    )
    if not uses:
        clients = sorted(kafka_clients(service))
        assert not clients, (
            f"{service} imports {clients} but has no entry in docgen/asyncapi.py SERVICES: "
            "say which topics it sends and receives"
        )
