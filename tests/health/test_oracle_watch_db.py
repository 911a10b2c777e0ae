"""The oracle watcher's reading of a real PostgreSQL as `rs_health` (its grants, its queries):
a user synced to 0 that Bitcoin still backs, one that diverges until N Bitcoin blocks passed,
a user whose address Bitcoin has not recorded (not judged), many burns in the window, the
supply above the BTC Bitcoin shows, and an oracle mint logged before its `Synced` reaches the
database counted with the supply until it does. Rows are written as the db-writer writes
them."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from health_monitor.config import Settings
from health_monitor.domain.alerting import Details
from health_monitor.domain.reserves import Attestation
from health_monitor.world.oracle_watch import OracleWatcher
from reservesync import pending_mints
from reservesync.messages import Severity
from reservesync.pending_mints import PendingMints

from tests.support.databases import FreshDatabase, fresh_database
from tests.support.stack import Endpoints

NOW = datetime.now(UTC)


@pytest.fixture(scope="module")
def database(endpoints: Endpoints) -> Iterator[FreshDatabase]:
    with fresh_database(endpoints) as fresh:
        yield fresh


@pytest.fixture
async def writer(database: FreshDatabase) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(database.migrator_url)
    try:
        yield connection
    finally:
        await connection.close()


@pytest.fixture
async def health_pool(database: FreshDatabase) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(database.health_url, min_size=1, max_size=2)
    try:
        yield pool
    finally:
        await pool.close()


def _user() -> str:
    return "0x" + secrets.token_hex(20)


def _hash() -> str:
    return "0x" + secrets.token_hex(32)


async def _address(
    db: asyncpg.Connection, user: str, sats: int | None, height: int, *, monitoring: bool = True
) -> None:
    """A verified address of `user`, and (unless None) Bitcoin's balance of it."""
    lookup = secrets.token_bytes(32)
    await db.execute(
        "INSERT INTO bitcoin_addresses (user_address, address_ciphertext, address_lookup, "
        "key_id, network, verified_at, monitoring, src_topic, src_partition, src_offset) "
        "VALUES ($1, $2, $3, 'k1', 'regtest', $4, $5, 't', 0, 0)",
        user,
        b"sealed",
        lookup,
        NOW,
        monitoring,
    )
    if sats is not None:
        await db.execute(
            "INSERT INTO bitcoin_address_balances (address_lookup, address_ciphertext, key_id, "
            "network, confirmed_sats, height, block_hash, as_of, src_topic, src_partition, "
            "src_offset) VALUES ($1, $2, 'k1', 'regtest', $3, $4, $5, $6, 't', 0, 0)",
            lookup,
            b"sealed",
            sats,
            height,
            secrets.token_hex(32),
            NOW,
        )


async def _sync(
    db: asyncpg.Connection,
    user: str,
    previous: int,
    new: int,
    *,
    block: int,
    cause: str = "SYNC",
    at: datetime = NOW,
    tx_hash: str | None = None,
) -> None:
    await db.execute(
        "INSERT INTO balance_history (user_address, previous_sats, new_sats, delta_sats, "
        "fee_wei, cause, chain_id, tx_hash, log_index, block_number, block_hash, "
        "block_timestamp, src_topic, src_partition, src_offset) "
        "VALUES ($1, $2, $3, $4, 0, $5, 31337, $6, 0, $7, $8, $9, 't', 0, 0)",
        user,
        previous,
        new,
        new - previous,
        cause,
        tx_hash or _hash(),
        block,
        _hash(),
        at,
    )


async def test_the_watcher_reads_both_sides_as_rs_health_and_judges_them(
    writer: asyncpg.Connection, health_pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEALTH_ORACLE_DIVERGENCE_BLOCKS", "3")
    monkeypatch.setenv("HEALTH_MASS_BURN_USERS", "3")
    watcher = OracleWatcher(Settings(), health_pool)
    zeroed, drifting, unrecorded, fine = _user(), _user(), _user(), _user()
    await _address(writer, zeroed, 150_000, 200)
    await _address(writer, zeroed, 100_000, 201)  # two addresses: their sum counts
    await _address(writer, drifting, 80_000, 200)
    await _address(writer, unrecorded, None, 0)
    await _address(writer, fine, 40_000, 200)
    # Verified, not monitored: the oracle never counts it, so neither does the comparison.
    await _address(writer, fine, 15_000, 200, monitoring=False)
    await _sync(writer, zeroed, 0, 250_000, block=10)
    await _sync(writer, zeroed, 250_000, 0, block=11)
    await _sync(writer, drifting, 0, 120_000, block=12)
    await _sync(writer, unrecorded, 300_000, 0, block=13)
    await _sync(writer, fine, 0, 40_500, block=14)  # within the tolerance

    state = await watcher.cycle(NOW, listener_height=202)
    assert state.error is None
    assert set(state.failed) == {zeroed}
    assert set(state.diverging) == {zeroed, drifting}
    failed = state.failed[zeroed]
    assert (failed.previous_sats, failed.synced_sats, failed.bitcoin_sats) == (250_000, 0, 250_000)
    assert failed.block == 11
    assert state.totals is not None
    # The reserves count every verified address, the unmonitored one too.
    assert state.totals.bitcoin_sats == 385_000
    assert (state.totals.addresses, state.totals.verified) == (5, 6)

    supply = Attestation(rbtc_sats=500_000, btc_sats=500_000, as_of=NOW)
    by_kind = {c.kind: c for c in watcher.conditions(NOW, supply)}
    assert by_kind["oracle_fail_to_zero"].details["user"] == zeroed
    assert by_kind["oracle_fail_to_zero"].severity is Severity.CRITICAL
    assert "oracle_divergence" not in by_kind  # not yet N Bitcoin blocks
    assert "under_backed" not in by_kind  # one address unrecorded: the total is partial
    assert "mass_burn" not in by_kind  # two users synced to 0 so far: zeroed, unrecorded

    # Three Bitcoin blocks later the divergence has lasted; a third user is burned (and one
    # long ago, outside the window, does not count).
    burned = _user()
    await writer.execute(
        "INSERT INTO bitcoin_address_balances (address_lookup, address_ciphertext, key_id, "
        "network, confirmed_sats, height, block_hash, as_of, src_topic, src_partition, "
        "src_offset) SELECT address_lookup, 'sealed', 'k1', 'regtest', 0, 203, $2, $3, 't', 0, 0 "
        "FROM bitcoin_addresses WHERE user_address = $1",
        unrecorded,
        secrets.token_hex(32),
        NOW,
    )
    await _address(writer, burned, 0, 203)
    await _sync(writer, burned, 0, 9_000, block=15)
    await _sync(writer, burned, 9_000, 0, block=16, cause="EMERGENCY_BURN")
    await _sync(writer, _user(), 5_000, 0, block=17, at=NOW - timedelta(hours=2))
    await watcher.cycle(NOW, listener_height=205)
    by_id = {c.alert_id: c for c in watcher.conditions(NOW, supply)}
    lasting = by_id[f"health:oracle_divergence:{drifting}"]
    assert lasting.details["gap_sats"] == 40_000
    assert lasting.details["diverging_blocks"] == 3
    under = by_id["health:under_backed:bitcoin"]  # every address recorded now
    assert under.details["shortfall_sats"] == 115_000  # the unmonitored 15,000 backs too
    assert under.details["bitcoin_sats"] == 385_000
    assert f"health:oracle_divergence:{fine}" not in by_id
    burst = by_id["health:mass_burn"]
    assert burst.details["users"] == 3
    report = watcher.report(NOW, supply)
    assert report.users_failed_to_zero == 1
    assert report.burned_users_in_window == 3
    assert {g.user for g in report.gaps} == {zeroed, drifting}

    # The oracle syncs the zeroed user back: it is judged in the next cycle, quiet again.
    await _sync(writer, zeroed, 0, 250_000, block=18)
    await watcher.cycle(NOW, listener_height=205)
    assert zeroed not in watcher.state.failed
    assert not [c for c in watcher.conditions(NOW, supply) if c.kind == "oracle_fail_to_zero"]


async def _operation(
    db: asyncpg.Connection,
    user: str,
    action: str,
    *,
    amount: int,
    previous: int,
    tx_hash: str | None,
    status: str = "success",
    at: datetime = NOW,
) -> None:
    await db.execute(
        "INSERT INTO oracle_operations_log (operation_id, action, user_address, amount_sats, "
        "previous_sats, tx_hash, consensus_reached, sources_used, status, occurred_at, "
        "oracle_id, src_topic, src_partition, src_offset) "
        "VALUES ($1, $2, $3, $4, $5, $6, true, '{}', $7, $8, 'oracle-1', 't', 0, 0)",
        secrets.token_hex(8),
        action,
        user,
        amount,
        previous,
        tx_hash,
        status,
        at,
    )


async def _as_api(database: FreshDatabase) -> PendingMints:
    """The pending mints as the API reads them: `rs_api`, every user (`'*'`), read only."""
    connection = await asyncpg.connect(database.api_url)
    try:
        async with connection.transaction(readonly=True):
            await connection.execute("SELECT set_config('reservesync.user', '*', true)")
            return await pending_mints.read(connection, NOW, 3600)
    finally:
        await connection.close()


async def test_a_mint_logged_before_its_synced_is_pending_until_the_database_holds_it(
    writer: asyncpg.Connection, health_pool: asyncpg.Pool, database: FreshDatabase
) -> None:
    watcher = OracleWatcher(Settings(), health_pool)
    user = _user()
    await _address(writer, user, 500_000, 300)
    await _sync(writer, user, 0, 500_000, block=30)
    state = await watcher.cycle(NOW, listener_height=300)
    assert state.error is None
    assert state.pending == PendingMints(0, 0)
    assert state.totals is not None
    held = state.totals.bitcoin_sats
    supply = Attestation(rbtc_sats=held, btc_sats=held, as_of=NOW)  # backed exactly

    def under_backed() -> Details | None:
        found = [c for c in watcher.conditions(NOW, supply) if c.kind == "under_backed"]
        return found[0].details if found else None

    assert under_backed() is None

    # The oracle logs a mint whose Synced is not in the database yet; what is not a pending
    # mint beside it: a mint that failed, one older than the window, another action.
    minted = _hash()
    await _operation(writer, user, "MINT", amount=200_000, previous=500_000, tx_hash=minted)
    await _operation(
        writer, user, "MINT", amount=9_000, previous=0, tx_hash=_hash(), status="failed"
    )
    await _operation(
        writer, user, "MINT", amount=8_000, previous=0, tx_hash=_hash(), at=NOW - timedelta(hours=2)
    )
    await _operation(writer, user, "SYNC", amount=7_000, previous=0, tx_hash=_hash())
    state = await watcher.cycle(NOW, listener_height=300)
    assert state.pending == PendingMints(200_000, 1)
    assert await _as_api(database) == state.pending  # the API's grants give the same
    details = under_backed()
    assert details is not None
    assert (details["pending_mint_sats"], details["shortfall_sats"]) == (200_000, 200_000)
    report = watcher.report(NOW, supply)
    assert (report.pending_mint_sats, report.pending_mints) == (200_000, 1)

    # Its Synced reaches the database: no longer pending (the supply holds it from then on).
    await _sync(writer, user, 500_000, 700_000, block=31, tx_hash=minted)
    state = await watcher.cycle(NOW, listener_height=300)
    assert state.pending == PendingMints(0, 0)
    assert await _as_api(database) == PendingMints(0, 0)
    assert under_backed() is None
    assert watcher.report(NOW, supply).pending_mint_sats == 0

    # A mint logged without a transaction hash is matched by the balance it syncs to.
    await _operation(writer, user, "MINT", amount=50_000, previous=700_000, tx_hash=None)
    assert (await watcher.cycle(NOW, listener_height=300)).pending == PendingMints(50_000, 1)
    await _sync(writer, user, 700_000, 750_000, block=32)
    assert (await watcher.cycle(NOW, listener_height=300)).pending == PendingMints(0, 0)
