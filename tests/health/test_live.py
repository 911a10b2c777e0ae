"""The health service on a real stack: Kafka, Postgres, the chain, an oracle, every producer
and itself as processes (see `world.py`). The world is the source side: what the chain's logs
and the oracle's journal hold, read by health itself."""

from __future__ import annotations

import asyncio
import html
import json
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable

import asyncpg
import httpx
from devstack import browser
from devstack.protocol import Protocol
from health_monitor.domain.score import Component, ComponentHealth, SyncStatus
from health_monitor.models import HealthReport
from reservesync.messages import Network

from tests.health.support.live_pipeline import World
from tests.support.waiting import eventually

DETECT_S = 30


async def report_where(
    world: World, check: Callable[[HealthReport], bool], what: str, within: float = 120
) -> HealthReport:
    seen: list[HealthReport] = []

    async def probe() -> HealthReport | None:
        report = await world.report()
        if report is not None:
            seen[:] = [report]
        return report if report is not None and check(report) else None

    try:
        found = await eventually(probe, within=within, what=what)
    except AssertionError as timeout:
        raise AssertionError(f"{timeout}; last report: {_summary(seen)}") from None
    assert found is not None
    return found


def _summary(seen: list[HealthReport]) -> str:
    if not seen:
        return "none"
    report = seen[0]
    parts = [
        f"score {report.score}",
        f"sources ready {report.sources_ready}",
        f"alerts {[a.alert_id for a in report.alerts]}",
        f"world {report.world.model_dump()}",
    ]
    parts += [
        f"{c.component.value}: {c.status.value} {c.reason} {c.where}" for c in report.components
    ]
    parts += [f"{p.name} alive={p.alive}" for p in report.producers]
    parts += [f"lag {g.group} {g.status.value} {g.lag} {g.max_lag_seconds}" for g in report.lag]
    return " | ".join(parts)


def component(report: HealthReport, which: Component) -> ComponentHealth:
    return next(c for c in report.components if c.component is which)


def _own_alerts(report: HealthReport) -> list[str]:
    return [a.alert_id for a in report.alerts if a.alert_id.startswith("health:")]


async def settled(world: World, within: float = 180) -> HealthReport:
    """Everything read, everything synchronized, every producer alive, nothing firing."""
    return await report_where(
        world,
        lambda r: (
            r.sources_ready
            and (r.world.chain_read_through or -1) >= world.last_block
            and r.score == 100
            and all(p.alive for p in r.producers)
            and not _own_alerts(r)
        ),
        "a fully synchronized world",
        within=within,
    )


def protocol(world: World) -> Protocol:
    return Protocol(world.endpoints.rpc_url, world.endpoints.deployment)


async def chain_moves(world: World, sats: int = 1000) -> str:
    """A new user is synced on chain (fee deposit, mint): events for the whole pipeline."""
    chain = protocol(world)
    user = Protocol.new_user()
    await asyncio.to_thread(chain.deposit_fees, user, 10**16)
    receipt = await asyncio.to_thread(chain.sync, user, sats)
    world.last_block = max(world.last_block, int(receipt["blockNumber"]))
    return user.lower()


async def test_the_world_synchronized_scores_100_with_every_producer_seen(world: World) -> None:
    await chain_moves(world)
    report = await settled(world)
    names = {p.name for p in report.producers}
    assert names == {"chain-listener", "db-writer", "oracle-logger"}
    assert report.world.chain_head is not None
    assert report.world.chain_read_through is not None
    assert report.world.listener_next_block is not None
    transactions = component(report, Component.TRANSACTIONS)
    assert transactions.source_count == transactions.database_count > 0
    assert transactions.status is SyncStatus.COMPLETE
    assert "agree" in transactions.reason
    # The canary went round the brokers and came back committed.
    canary = await report_where(
        world,
        lambda r: r.canary is not None and r.canary.last_round_trip_s is not None,
        "a canary round trip",
        within=60,
    )
    assert canary.canary is not None
    assert 0 < (canary.canary.last_round_trip_s or 0) < 30


# -- hand edits in the four tables: detected and located, restored → 100 -------------------------


async def _row(db: asyncpg.Connection, table: str, where: str) -> dict[str, object]:
    text = await db.fetchval(
        f"SELECT row_to_json(r)::text FROM {table} r WHERE {where} ORDER BY created_at DESC LIMIT 1"
    )
    assert text is not None, f"no row of {table} where {where}"
    return dict(json.loads(text))


async def _insert(db: asyncpg.Connection, table: str, row: dict[str, object]) -> None:
    columns = [c for c in row if c != "id"]
    await db.execute(
        f"INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join(columns)} "
        f"FROM json_populate_record(null::{table}, $1::json)",
        json.dumps({c: row[c] for c in columns}),
    )


async def _located(world: World, which: Component, kind: str, key: str) -> HealthReport:
    started = time.monotonic()
    found = await report_where(
        world,
        lambda r: (
            component(r, which).status is not SyncStatus.COMPLETE
            and any(f"{kind} {key}" in w for w in component(r, which).where)
        ),
        f"{which.value}: {kind} {key} located",
        within=DETECT_S,
    )
    assert time.monotonic() - started <= DETECT_S
    assert found.score < 100
    return found


IDENTITY = {
    "transactions": ("chain_id", "tx_hash", "log_index"),
    "emergency_burns": ("burn_key",),
    "users": ("address",),
    "oracle_operations_log": ("operation_id",),
}


async def _edits(
    world: World,
    db: asyncpg.Connection,
    table: str,
    which: Component,
    row: dict[str, object],
    *,
    key: str,
    alter: str | None,
    extra: dict[str, object],
    extra_key: str,
) -> None:
    # The row by what identifies it (a restored row has a new id).
    identity = " AND ".join(f"{c} = '{row[c]}'" for c in IDENTITY[table])
    if alter is not None:
        await db.execute(f"UPDATE {table} SET {alter} WHERE {identity}")
        await _located(world, which, "altered", key)
        await db.execute(f"DELETE FROM {table} WHERE {identity}")
        await _insert(db, table, row)
        await settled(world)
    await db.execute(f"DELETE FROM {table} WHERE {identity}")
    await _located(world, which, "missing", key)
    await _insert(db, table, row)
    await settled(world)
    await _insert(db, table, {**row, **extra})
    await _located(world, which, "extra", extra_key)
    column, value = next(iter(extra.items()))
    await db.execute(f"DELETE FROM {table} WHERE {column} = $1", value)
    await settled(world)


async def _emergency_burn(world: World) -> str:
    """A user whose fee vault runs dry while their Bitcoin drops: the contract burns it all."""
    chain = protocol(world)
    user = Protocol.new_user()
    await asyncio.to_thread(chain.deposit_fees, user, chain.quote_fees(user, 1000))
    await asyncio.to_thread(chain.sync, user, 1000)
    receipt = await asyncio.to_thread(chain.sync, user, 400)
    world.last_block = max(world.last_block, int(receipt["blockNumber"]))
    return user.lower()


async def test_hand_edits_in_every_table_are_located_and_restoring_them_gives_100(
    world: World,
) -> None:
    await chain_moves(world)
    await _emergency_burn(world)
    operations = [world.oracle.book.register(Protocol.new_user().lower())]
    await world.log_operations(operations)
    await settled(world)
    db = await asyncpg.connect(world.database.migrator_url)
    try:
        tx = await _row(db, "transactions", "tx_type = 'MINT'")
        tx_key = f"{tx['chain_id']}:{tx['tx_hash']}:{tx['log_index']}"
        await _edits(
            world,
            db,
            "transactions",
            Component.TRANSACTIONS,
            tx,
            key=tx_key,
            alter="amount = amount + 1",
            extra={"log_index": 9999},
            extra_key=f"{tx['chain_id']}:{tx['tx_hash']}:9999",
        )
        burn = await _row(db, "emergency_burns", "true")
        fake = "0x" + "ab" * 32
        await _edits(
            world,
            db,
            "emergency_burns",
            Component.EMERGENCY_BURNS,
            burn,
            key=str(burn["burn_key"]),
            alter="burned_sats = burned_sats + 1",
            extra={"burn_key": f"{fake}:{burn['user_address']}", "tx_hash": fake},
            extra_key=f"{fake}:{burn['user_address']}",
        )
        user = await _row(db, "users", "first_seen_source = 'chain'")
        stranger = Protocol.new_user().lower()
        await _edits(
            world,
            db,
            "users",
            Component.USERS,
            user,
            key=str(user["address"]),
            alter=None,
            extra={"address": stranger},
            extra_key=stranger,
        )
        op = await _row(
            db, "oracle_operations_log", f"operation_id = '{operations[0].operation_id}'"
        )
        await _edits(
            world,
            db,
            "oracle_operations_log",
            Component.ORACLE_OPERATIONS,
            op,
            key=str(op["operation_id"]),
            alter="amount_sats = coalesce(amount_sats, 0) + 1",
            extra={"operation_id": "hand-made-operation"},
            extra_key="hand-made-operation",
        )
    finally:
        await db.close()


# -- dead or frozen producers ------------------------------------------------------------------


async def _frozen(world: World, name: str, act: Callable[[], object]) -> HealthReport:
    """Freeze `name`, let the world move (`act`), and wait for the alert and the lower score."""
    await settled(world)
    world.signal(name, signal.SIGSTOP)
    try:
        started = time.monotonic()
        result = act()
        if asyncio.iscoroutine(result):
            await result
        frozen = await report_where(
            world,
            lambda r: r.score < 100 and f"health:producer:{name}" in _own_alerts(r),
            f"{name} frozen: alert and score below 100",
            within=DETECT_S,
        )
        assert time.monotonic() - started <= DETECT_S
        seen = next(p for p in frozen.producers if p.name == name)
        assert not seen.alive
        assert any(c.stale for c in frozen.components)
    finally:
        world.signal(name, signal.SIGCONT)
    return frozen


async def test_a_frozen_chain_listener_is_seen_while_the_chain_moves(world: World) -> None:
    frozen = await _frozen(world, "chain-listener", lambda: chain_moves(world))
    assert component(frozen, Component.TRANSACTIONS).stale
    await settled(world)


async def test_a_frozen_db_writer_is_seen(world: World) -> None:
    await _frozen(world, "db-writer", lambda: chain_moves(world))
    await settled(world)


async def test_a_frozen_oracle_logger_is_seen_while_the_oracle_acts(world: World) -> None:
    performed = []

    def act() -> None:
        performed.append(world.oracle.book.register(Protocol.new_user().lower()))

    frozen = await _frozen(world, "oracle-logger", act)
    assert component(frozen, Component.ORACLE_OPERATIONS).stale
    await world.log_operations(performed)
    await settled(world)


# -- the oracle's journal is the operations' world ---------------------------------------------


async def test_operations_performed_but_never_logged_count_from_the_journal(world: World) -> None:
    await settled(world)
    user = Protocol.new_user().lower()
    book = world.oracle.book
    legacy = [book.register(user)]
    legacy.append(
        book.verify_address(user, "tb1q" + "q" * 38, monitoring=True, network=Network.TESTNET)
    )
    found = await report_where(
        world,
        lambda r: component(r, Component.ORACLE_OPERATIONS).missing >= 2,
        "the journal's unlogged operations counted",
        within=DETECT_S,
    )
    operations = component(found, Component.ORACLE_OPERATIONS)
    assert operations.source_count >= operations.database_count + 2
    assert operations.status is SyncStatus.PARTIAL
    assert "nothing logged it" in operations.reason
    assert found.world.oracle_journal == len(book.journal)
    await world.log_operations(legacy)
    reconciled = await settled(world)
    operations = component(reconciled, Component.ORACLE_OPERATIONS)
    assert operations.source_count == operations.database_count == len(book.journal)


# -- lag that is true ------------------------------------------------------------------------------


async def test_a_paused_writer_reports_the_age_of_its_oldest_unwritten_record(
    world: World,
) -> None:
    await settled(world)
    world.signal("db-writer", signal.SIGSTOP)
    try:
        await chain_moves(world)
        moved = time.time()
        paused = await report_where(
            world,
            lambda r: r.lag[0].max_lag_seconds >= 15,
            "fifteen seconds of lag",
            within=90,
        )
        expected = paused.computed_at.timestamp() - moved
        (group,) = paused.lag
        assert abs(group.max_lag_seconds - expected) <= 0.2 * expected, (group, expected)
        assert 0 < group.lag <= 10  # records, not offsets: no transaction markers counted
        assert group.status.value != "OK"
    finally:
        world.signal("db-writer", signal.SIGCONT)
    await settled(world)


# -- what a person sees ------------------------------------------------------------------------


async def test_the_dashboard_fits_1280_and_1920_and_says_what_the_endpoint_says(
    world: World,
) -> None:
    shown = await settled(world)
    for width in (1280, 1920):
        dom = await asyncio.to_thread(
            browser.rendered_dom, f"{world.health_url}/dashboard", width=width
        )
        clipped = re.search(r'data-clipped="([^"]*)"', dom)
        assert 'data-fits="true"' in dom, f"overflows at {width}px: {clipped and clipped[1]}"
        page = _visible_text(dom)
        for c in shown.components:
            assert c.title in page
            assert c.reason in page
        for p in shown.producers:
            assert p.name in page
        assert "read by health through block" in page
        assert "not refreshed" not in page


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
    text = result.stdout
    assert "SYNCHRONIZATION STATUS MATRIX" in text
    assert "| **TOTAL SYSTEM HEALTH** | - | - | **100.0%** | ✅ Perfect |" in text
    async with httpx.AsyncClient(timeout=10) as client:
        metrics = (await client.get(f"{world.health_url}/metrics")).text
    assert "health_score_percent 100.0" in metrics
    assert 'health_producer_up{producer="chain-listener"} 1.0' in metrics


def _visible_text(dom: str) -> str:
    body = re.sub(r"<script.*?</script>|<style.*?</style>", "", dom, flags=re.S)
    text = re.sub(r"<[^>]+>", " ", body)
    return " ".join(html.unescape(text).split())


async def test_a_synced_balance_altered_by_hand_is_caught_by_the_rolling_check(
    world: World,
) -> None:
    user = await chain_moves(world, sats=4321)
    before = await settled(world)
    db = await asyncpg.connect(world.database.migrator_url)
    try:
        await db.execute(
            "UPDATE balance_history SET new_sats = new_sats + 1, delta_sats = delta_sats + 1 "
            "WHERE user_address = $1",
            user,
        )
        found = await _located(world, Component.TRANSACTIONS, "altered", user)
        assert found.world.balance_mismatches >= 1
        assert any(
            "4321 sats (lastSyncedSats)" in w
            for w in component(found, Component.TRANSACTIONS).where
        )
        await db.execute(
            "UPDATE balance_history SET new_sats = new_sats - 1, delta_sats = delta_sats - 1 "
            "WHERE user_address = $1",
            user,
        )
    finally:
        await db.close()
    after = await settled(world)
    assert after.world.balances_checked > before.world.balances_checked
    assert after.world.balance_passes >= 1
