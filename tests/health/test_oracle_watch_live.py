"""The oracle against Bitcoin on the real stack: a user with BTC on a verified regtest address
(a real signed transaction on btcd, recorded by a real bitcoin-listener and the db-writer) is
synced on chain; the oracle then syncs the user to 0 on chain while Bitcoin still shows the
funds, and health raises `oracle_fail_to_zero` in the first evaluation that reads the sync."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import asyncpg
import httpx
from devstack import browser, procs
from devstack.protocol import Protocol
from devstack.regtest import OwnKey, Regtest
from health_monitor.models import HealthReport, ReservesReport
from reservesync.messages import Alert, AlertState, Network, Severity

from tests.health.support.live_pipeline import World
from tests.health.test_live import _visible_text, report_where
from tests.support.bitcoin_listening import listener_env, running_listener
from tests.support.waiting import eventually

HELD_SATS = 250_000
CONFIRMATIONS = 2


async def _newest_sync(db: asyncpg.Connection, user: str) -> int | None:
    value = await db.fetchval(
        "SELECT new_sats FROM balance_history WHERE user_address = $1 "
        "ORDER BY block_number DESC, log_index DESC LIMIT 1",
        user,
    )
    return None if value is None else int(value)


async def _bitcoin_recorded(db: asyncpg.Connection, user: str) -> bool:
    return bool(
        await db.fetchval(
            "SELECT bool_and(bal.confirmed_sats = $2) FROM bitcoin_addresses b "
            "JOIN bitcoin_address_balances bal USING (address_lookup) "
            "WHERE b.user_address = $1 AND b.verified_at IS NOT NULL",
            user,
            HELD_SATS,
        )
    )


async def test_a_sync_to_zero_bitcoin_does_not_show_is_critical_within_one_cycle(
    world: World,
) -> None:
    regtest = Regtest(world.endpoints.bitcoin)
    address = OwnKey().address
    txid, _ = await asyncio.to_thread(regtest.send, {address: HELD_SATS})
    await asyncio.to_thread(regtest.mine, CONFIRMATIONS)
    start_height = await asyncio.to_thread(regtest.block_of, txid)

    # The oracle registers the user and verifies the address; its state reaches the topic
    # (oracle-logger), the bitcoin-listener watches the address, the db-writer stores both.
    account = Protocol.new_user()  # the chain wants it checksummed, the rows lower case
    user = account.lower()
    book = world.oracle.book
    operations = [
        book.register(user),
        book.verify_address(user, address, monitoring=True, network=Network.REGTEST),
    ]
    await world.log_operations(operations)
    env = listener_env(
        world.endpoints,
        start_height,
        procs.free_port(0),
        KAFKA_BOOTSTRAP_SERVERS=world.bootstrap,
    )
    chain = Protocol(world.endpoints.rpc_url, world.endpoints.deployment)
    db = await asyncpg.connect(world.database.migrator_url)
    try:
        with running_listener(f"bitcoin-listener-{world.prefix}", env):
            await eventually(
                lambda: _bitcoin_recorded(db, user),
                within=120,
                what=f"Bitcoin's {HELD_SATS} sats of the user's verified address in the database",
            )
            # The oracle syncs what Bitcoin shows: both sides agree, nothing to say.
            await asyncio.to_thread(chain.deposit_fees, account, 10**16)
            await asyncio.to_thread(chain.sync, account, HELD_SATS)
            await eventually(
                lambda: _synced_to(db, user, HELD_SATS), within=120, what="the sync written"
            )
            agreed = await report_where(
                world,
                lambda r: r.reserves is not None and r.reserves.bitcoin_addresses >= 1,
                "the reserves judged with the user's address",
            )
            assert _fail_to_zero(agreed, user) is None

            # The oracle's data source fails and it syncs the user to 0: Bitcoin disagrees.
            receipt = await asyncio.to_thread(chain.sync, account, 0)
            world.last_block = max(world.last_block, int(receipt["blockNumber"]))
            await eventually(lambda: _synced_to(db, user, 0), within=120, what="the sync to 0")
            written = datetime.now(UTC)
            # The first evaluation that started after the row was written has read it.
            first = await report_where(
                world, lambda r: r.sources_ready and r.computed_at > written, "the next cycle"
            )
    finally:
        await db.close()

    alert = _fail_to_zero(first, user)
    assert alert is not None, f"no oracle_fail_to_zero in the first cycle: {first.alerts}"
    assert alert.severity is Severity.CRITICAL
    assert alert.state is AlertState.FIRING
    assert alert.details["user"] == user
    assert alert.details["previous_sats"] == HELD_SATS
    assert alert.details["synced_sats"] == 0
    assert alert.details["bitcoin_sats"] == HELD_SATS
    assert alert.details["gap_sats"] == -HELD_SATS
    assert alert.details["evm_block"] == int(receipt["blockNumber"])
    assert first.reserves is not None
    (gap,) = [g for g in first.reserves.gaps if g.user == user]
    assert gap.failed_to_zero
    assert gap.bitcoin_sats == HELD_SATS
    assert first.reserves.users_failed_to_zero >= 1
    # Announced on the alert topic as well.
    announced = await eventually(
        lambda: _announced(world, alert.alert_id), within=60, what="the alert on the topic"
    )
    assert announced
    # The reserves' own JSON and the dashboard's panel say it (the state lasts until the
    # oracle syncs the user again).
    async with httpx.AsyncClient(timeout=10) as client:
        answer = await client.get(f"{world.health_url}/v1/reserves")
    answer.raise_for_status()
    reserves = ReservesReport.model_validate(answer.json())
    assert any(g.user == user and g.failed_to_zero for g in reserves.gaps)
    dom = await asyncio.to_thread(browser.rendered_dom, f"{world.health_url}/dashboard")
    page = _visible_text(dom)
    assert "Reserves and the oracle against Bitcoin" in page
    assert f"{user[:10]}\u2026" in page
    assert "failed to zero" in page
    assert 'data-fits="true"' in dom


async def _synced_to(db: asyncpg.Connection, user: str, sats: int) -> bool:
    return await _newest_sync(db, user) == sats


def _fail_to_zero(report: HealthReport, user: str) -> Alert | None:
    return next(
        (a for a in report.alerts if a.alert_id == f"health:oracle_fail_to_zero:{user}"), None
    )


async def _announced(world: World, alert_id: str) -> bool:
    return any(
        a.alert_id == alert_id and a.state is AlertState.FIRING for a in await world.alerts()
    )
