"""The health service on a real stack: Kafka, Postgres, the chain, the db-writer and itself as
processes (see `world.py`)."""

from __future__ import annotations

import asyncio
import html
import re
import secrets
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime

import asyncpg
import httpx
from devstack import browser
from health_monitor.domain.burrow import LagStatus
from health_monitor.domain.score import Component, ComponentHealth, SyncStatus
from health_monitor.models import HealthReport
from health_monitor.report import percent_text
from reservesync.messages import Alert, AlertState, Severity
from reservesync.topics import ALERTS, CHAIN_EVENTS, ORACLE_OPERATIONS, ORACLE_STATE
from support.messages import deposited, publish, random_hash, synced
from support.waiting import eventually

from health.builders import new_user, operation, oracle_state
from health.world import World


async def report_where(
    world: World, check: Callable[[HealthReport], bool], what: str, within: float = 90
) -> HealthReport:
    async def probe() -> HealthReport | None:
        report = await world.report()
        return report if report is not None and check(report) else None

    found = await eventually(probe, within=within, what=what)
    assert found is not None
    return found


def component(report: HealthReport, which: Component) -> ComponentHealth:
    return next(c for c in report.components if c.component is which)


async def settled(world: World) -> HealthReport:
    """Everything read, everything synchronized, nothing of ours firing."""
    return await report_where(
        world,
        lambda r: (
            r.sources_ready
            and r.score == 100
            and all(g.lag == 0 for g in r.lag)
            and not [a for a in r.alerts if a.alert_id.startswith("health:")]
        ),
        "a fully synchronized world",
    )


async def test_a_stopped_writer_shows_as_lag_a_lower_score_and_alerts(world: World) -> None:
    deployment = world.endpoints.deployment
    await settled(world)
    user = new_user()
    await world.publish(
        CHAIN_EVENTS.name, [synced(deployment, user, 100, 100), deposited(deployment, user, 10**16)]
    )
    before = await report_where(
        world,
        lambda r: component(r, Component.TRANSACTIONS).database_count >= 2 and r.score == 100,
        "the first events written",
    )
    written = component(before, Component.TRANSACTIONS).database_count

    world.stop_writer()
    await world.publish(
        CHAIN_EVENTS.name,
        [synced(deployment, user, 100 + i, 1, block=200 + i) for i in range(1, 6)],
    )
    stopped = await report_where(
        world,
        lambda r: r.lag[0].status is LagStatus.STOP and r.lag[0].lag >= 5,
        "the writer's lag to be judged STOP",
    )
    (group,) = stopped.lag
    assert group.group == world.group
    assert not group.consumer_alive
    behind = [p for p in group.partitions if p.lag]
    assert behind
    assert all(p.topic == CHAIN_EVENTS.name for p in behind)
    assert all(p.lag_seconds > 0 for p in behind)
    transactions = component(stopped, Component.TRANSACTIONS)
    assert transactions.database_count == written
    assert transactions.source_count == written + 5
    assert transactions.status is SyncStatus.PARTIAL
    assert transactions.percent < 100
    assert stopped.score < 100

    lag_alert = f"health:lag:{world.group}"
    firing = await eventually(
        lambda: _states(world, lag_alert, "health:component:transaction_logging"),
        what="lag and component alerts on the alerts topic",
    )
    assert firing[lag_alert] == [AlertState.FIRING]

    world.start_writer()
    after = await settled(world)
    assert component(after, Component.TRANSACTIONS).database_count == written + 5
    assert after.lag[0].status is LagStatus.OK
    resolved = await eventually(
        lambda: _states(world, lag_alert, resolved=True), what="the lag alert resolved"
    )
    assert resolved[lag_alert] == [AlertState.FIRING, AlertState.RESOLVED]
    # The webhook got both, the first delivery attempt having been refused and retried.
    delivered = await eventually(
        lambda: _webhook_states(world, lag_alert), what="the webhook deliveries"
    )
    assert delivered == ["firing", "resolved"]
    assert world.webhook.refused == 1


async def _attest(world: World, rbtc: int, btc: int, unbacked: int = 0) -> None:
    """A reserves state as the API records it (through its definer function, as `rs_api`):
    rBTC supply, BTC, wrBTC outstanding 0, synced = supply - unbacked, unbacked."""
    connection = await asyncpg.connect(world.database.api_url)
    try:
        await connection.fetchval(
            "SELECT api_record_reserves($1, $2, 1, $3, now(), 0, $4, $5)",
            rbtc,
            btc,
            random_hash(),
            rbtc - unbacked,
            unbacked,
        )
    finally:
        await connection.close()


async def test_reserves_the_api_published_under_backed_raise_an_alert_until_backed(
    world: World,
) -> None:
    await settled(world)
    await _attest(world, 200_000, 150_000, unbacked=15_000)
    alert = "health:reserves"
    firing = await eventually(lambda: _states(world, alert), what="the under-backed alert")
    assert firing[alert] == [AlertState.FIRING]
    (raised,) = [a for a in await world.alerts() if a.alert_id == alert]
    assert raised.kind == "reserves_under_backed"
    assert raised.details["backing_ratio"] == 0.75
    assert raised.details["unbacked_supply_sats"] == 15_000
    await _attest(world, 200_000, 200_000)
    resolved = await eventually(
        lambda: _states(world, alert, resolved=True), what="the alert resolved once backed"
    )
    assert resolved[alert] == [AlertState.FIRING, AlertState.RESOLVED]
    await settled(world)


async def _states(
    world: World, *alert_ids: str, resolved: bool = False
) -> dict[str, list[AlertState]]:
    """The states each alert went through, once each ended up firing (or resolved); else {}."""
    seen: dict[str, list[AlertState]] = {i: [] for i in alert_ids}
    for alert in await world.alerts():
        if alert.alert_id in seen:
            seen[alert.alert_id].append(alert.state)
    done = all(
        states and states[-1] is (AlertState.RESOLVED if resolved else AlertState.FIRING)
        for states in seen.values()
    )
    return seen if done else {}


async def _webhook_states(world: World, alert_id: str, until: str = "resolved") -> list[str]:
    states = [a["state"] for a in world.webhook.received if a["alert_id"] == alert_id]
    return states if states[-1:] == [until] else []


def deep_reorg() -> Alert:
    """What the chain-listener publishes when a reorg outruns its confirmations."""
    return Alert(
        alert_id=f"chain-reorg:31337:{secrets.randbelow(10**6)}:{random_hash()}",
        kind="chain_reorg_beyond_confirmations",
        severity=Severity.CRITICAL,
        state=AlertState.FIRING,
        summary="chain 31337: a reorg 5 blocks deep replaced published blocks from 120",
        details={"chain_id": 31337, "fork_block": 120, "depth": 5},
        raised_at=datetime.now(UTC),
    )


async def test_a_legacy_oracle_that_logs_no_operations_scores_0_until_it_does(
    world: World,
) -> None:
    await settled(world)
    user = new_user()
    # The oracle's state says it performed four operations; none was published (legacy).
    await world.publish(ORACLE_STATE.name, [oracle_state(user, performed=4, addresses=2)])
    legacy = await report_where(
        world,
        lambda r: (
            component(r, Component.ORACLE_OPERATIONS).source_count >= 4
            and component(r, Component.USERS).status is SyncStatus.COMPLETE
        ),
        "the oracle's counter as the operations source",
    )
    operations = component(legacy, Component.ORACLE_OPERATIONS)
    logged = operations.database_count
    assert operations.source_count == logged + 4
    if logged == 0:
        assert (operations.percent, operations.status) == (0, SyncStatus.NOT_SYNCED)
    else:
        assert operations.status is SyncStatus.PARTIAL
    matrix = {row.component: row for row in legacy.matrix}
    assert matrix["Oracle Operations"].oracle == logged + 4
    assert legacy.score < 100
    # Reconciled: the four operations logged through the real db-writer.
    await world.publish(ORACLE_OPERATIONS.name, [operation(user) for _ in range(4)])
    reconciled = await settled(world)
    operations = component(reconciled, Component.ORACLE_OPERATIONS)
    assert (operations.database_count, operations.source_count) == (logged + 4, logged + 4)
    assert (operations.percent, operations.status) == (100, SyncStatus.COMPLETE)


async def test_the_dashboard_shows_what_the_endpoint_says(world: World) -> None:
    await settled(world)
    user = new_user()
    await world.publish(ORACLE_STATE.name, [oracle_state(user, performed=2)])
    # A record nobody can read goes to the dead-letter topic and shows there.
    await publish(world.bootstrap, CHAIN_EVENTS.name, [(user.encode(), b"{not json")])
    # The chain-listener's deep-reorg alert is surfaced, not raised a second time.
    reorg = deep_reorg()
    await publish(world.bootstrap, ALERTS.name, [(reorg.alert_id.encode(), reorg.to_json())])
    shown = await report_where(
        world,
        lambda r: (
            component(r, Component.ORACLE_OPERATIONS).status is not SyncStatus.COMPLETE
            and bool(r.dead_letters)
            and reorg.alert_id in {a.alert_id for a in r.alerts}
        ),
        "an unsynchronized world with a dead letter and a deep reorg",
    )
    dom = await asyncio.to_thread(browser.rendered_dom, f"{world.health_url}/dashboard")
    page = _visible_text(dom)
    assert f"score {percent_text(shown.score)}" in page
    for c in shown.components:
        assert c.title in page
    for row in shown.matrix:
        status = row.status.value + (f" ({row.note})" if row.note else "")
        assert f"{row.component} {row.database} {row.oracle} {status}" in page
    assert world.group in page  # the lag table's partitions
    assert "rbtc.chain.events.v1/" in page  # the dead letter
    assert "not UTF-8 JSON" in page
    assert reorg.summary in page
    assert "not refreshed" not in page
    forwarded = await eventually(
        lambda: _webhook_states(world, reorg.alert_id, until="firing"),
        what="the deep-reorg alert on the webhook",
    )
    assert forwarded == ["firing"]
    assert [a.alert_id for a in await world.alerts()].count(reorg.alert_id) == 1
    # Put right again for the next test.
    await world.publish(ORACLE_OPERATIONS.name, [operation(user) for _ in range(2)])
    await settled(world)


async def test_the_report_command_prints_the_seed_sections(world: World) -> None:
    await settled(world)
    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "health_monitor.report", "--url", world.health_url],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    report = await world.report()
    assert report is not None
    text = result.stdout
    assert "SYNCHRONIZATION STATUS MATRIX" in text
    assert "| **TOTAL SYSTEM HEALTH** | - | - | **100.0%** | ✅ Perfect |" in text
    assert f"- **Total Transactions**: {report.usage.total_transactions:,}" in text
    assert "| **Oracle Operations Log** | 100% | 10% | 10.0% | ✅ Perfect |" in text
    async with httpx.AsyncClient(timeout=10) as client:
        metrics = (await client.get(f"{world.health_url}/metrics")).text
    assert "health_score_percent 100.0" in metrics
    assert 'health_component_percent{component="oracle_operations_log"} 100.0' in metrics
    assert f'health_consumer_group_status{{group="{world.group}",status="OK"}} 1.0' in metrics


def _visible_text(dom: str) -> str:
    """The page's text as a person reads it: tags and scripts gone, cells apart."""
    body = re.sub(r"<script.*?</script>|<style.*?</style>", "", dom, flags=re.S)
    text = re.sub(r"<[^>]+>", " ", body)
    return " ".join(html.unescape(text).split())
