"""docker-compose.yml through the real Docker Compose v2 (`docker compose config`, see
tests/deploy/compose.py): what the services get on the shipped .env.example, on a real network,
and with the opt-in profiles."""

from __future__ import annotations

import json

from tests.deploy.support.compose import default_config, render

REAL_NETWORK = {
    "COMPOSE_PROFILES": "",
    "CHAIN_RPC_URL": "https://rpc.megaeth.example",
    "CHAIN_ID": "4326",
    "CHAIN_CONTRACTS": json.dumps(
        {"RBTCSynth": {"address": "0x" + "12" * 20, "deployed_block": 1200}}
    ),
    "CHAIN_START_BLOCK": "1200",
}


def test_the_shipped_env_renders_and_every_image_is_pinned() -> None:
    services = default_config()["services"]
    assert {"chain", "deploy-contracts", "chain-listener", "health"} <= set(services)
    for name, service in services.items():
        image = service.get("image")
        if image is None or "build" in service:
            continue  # built here
        tag = image.rsplit(":", 1)[-1] if ":" in image.rsplit("/", 1)[-1] else ""
        assert tag, f"{name}: {image} has no tag"
        assert tag not in {"latest", "stable", "nightly"}, f"{name}: {image} is a moving tag"


def test_the_chain_comes_from_env() -> None:
    services = render(**REAL_NETWORK)["services"]
    assert "chain" not in services, "a real network needs no anvil"
    assert "deploy-contracts" not in services, "nothing deploys onto a real network"
    listener = services["chain-listener"]["environment"]
    assert listener["CHAIN_RPC_URL"] == REAL_NETWORK["CHAIN_RPC_URL"]
    assert listener["CHAIN_ID"] == "4326"
    assert json.loads(listener["CHAIN_CONTRACTS"]) == json.loads(REAL_NETWORK["CHAIN_CONTRACTS"])
    assert listener["CHAIN_START_BLOCK"] == "1200"
    assert listener["CHAIN_TRANSACTIONAL_ID"] == "chain-listener-4326"
    for name in ("chain", "deploy-contracts"):
        # Compose skips a dependency on a service of an inactive profile only when optional.
        assert services["chain-listener"]["depends_on"][name]["required"] is False
    health = services["health"]["environment"]
    assert health["CHAIN_RPC_URL"] == REAL_NETWORK["CHAIN_RPC_URL"]
    assert health["CHAIN_ID"] == "4326"


def test_reconciliation_runs_on_a_schedule_with_the_reconcile_profile() -> None:
    assert "oracle-reconcile" not in default_config()["services"]
    services = render(COMPOSE_PROFILES="local-chain,reconcile")["services"]
    job = services["oracle-reconcile"]
    assert job["command"][-4:] == ["-m", "oracle_logger.reconcile", "--every", "300"]
    assert job["restart"] == "unless-stopped"
    assert job["environment"]["DATABASE_URL"].startswith("postgresql://rs_health:")
