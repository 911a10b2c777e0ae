"""Each mapping end to end: a message published to its topic becomes the rows and view values
the mapping table in `db_writer.mapping` promises, through the real db-writer process."""

from __future__ import annotations

from datetime import timedelta

import asyncpg
from devstack.protocol import Protocol
from pydantic import SecretStr
from reservesync.contracts import SystemContract
from reservesync.crypto import FieldCipher
from reservesync.messages import (
    BlockRef,
    ChainEvent,
    ChainReorg,
    KnownEmergencyBurn,
    Network,
    OperationStatus,
    OracleAction,
    OracleOperation,
    OracleUserState,
    RegisteredContract,
    WatchedBitcoinAddress,
)
from reservesync.messages.chain import ZERO_ADDRESS
from reservesync.settings import EncryptionSettings
from reservesync.topics import CHAIN_EVENTS, ORACLE_OPERATIONS, ORACLE_STATE, REGISTRY

from tests.support.messages import T0, chain_event, publish, random_hash, synced
from tests.support.stack import Endpoints
from tests.support.waiting import eventually

AGGREGATOR = SystemContract.ORACLE_AGGREGATOR
POOL = SystemContract.YIELD_SCALES_POOL
SYNTH = SystemContract.RBTC_SYNTH
VAULT = SystemContract.VAULT_WRBTC


def cipher(endpoints: Endpoints) -> FieldCipher:
    return FieldCipher.from_settings(
        EncryptionSettings(field_encryption_key=SecretStr(endpoints.field_encryption_key))
    )


async def test_synced_and_emergency_burn_reach_every_table_and_view(
    pipeline: Endpoints, db: asyncpg.Connection
) -> None:
    user = Protocol.new_user().lower()
    burn_tx, block_hash = random_hash(), random_hash()
    events = [
        synced(pipeline.deployment, user, 120_000, 120_000, fee=2_200_000_000_000_000),
        synced(
            pipeline.deployment,
            user,
            90_000,
            -30_000,
            fee=1_000_000_000_000_000,
            block=101,
            at=T0 + timedelta(hours=1),
        ),
        chain_event(
            pipeline.deployment,
            AGGREGATOR,
            "EmergencyBurn",
            {"user": user, "burnedAmount": "90000", "reason": "Insufficient fees"},
            tx_hash=burn_tx,
            log_index=1,
            block_number=102,
            block_hash=block_hash,
            at=T0 + timedelta(hours=2),
        ),
        synced(
            pipeline.deployment,
            user,
            0,
            -90_000,
            fee=0,
            tx_hash=burn_tx,
            log_index=2,
            block=102,
            block_hash=block_hash,
            at=T0 + timedelta(hours=2),
        ),
    ]
    await publish(
        pipeline.kafka_bootstrap_servers,
        CHAIN_EVENTS.name,
        [(user.encode(), e.to_json()) for e in events],
    )
    await eventually(
        lambda: db.fetchval(
            "SELECT count(*) = 3 FROM balance_history WHERE user_address = $1", user
        ),
        what="three balance_history rows",
    )
    transactions = await db.fetch(
        "SELECT tx_type, amount, balance_after_sats FROM transactions WHERE user_address = $1 "
        "ORDER BY block_number, log_index",
        user,
    )
    assert [(r["tx_type"], r["amount"], r["balance_after_sats"]) for r in transactions] == [
        ("MINT", 120_000, 120_000),
        ("BURN", 30_000, 90_000),
        ("EMERGENCY_BURN", 90_000, None),
    ]
    history = await db.fetch(
        "SELECT previous_sats, new_sats, cause FROM balance_history WHERE user_address = $1 "
        "ORDER BY block_number, log_index",
        user,
    )
    assert [tuple(r) for r in history] == [
        (0, 120_000, "SYNC"),
        (120_000, 90_000, "SYNC"),
        (90_000, 0, "EMERGENCY_BURN"),
    ]
    assert (
        await db.fetchval("SELECT count(*) FROM balance_snapshots WHERE user_address = $1", user)
        == 3
    )
    burn = await db.fetchrow("SELECT * FROM emergency_burns WHERE user_address = $1", user)
    assert burn["burned_sats"] == 90_000
    assert burn["burn_key"] == f"{burn_tx}:{user}"
    assert (burn["seen_on_chain"], burn["reported_by_oracle"]) == (True, False)
    state = await db.fetchrow("SELECT * FROM user_current_state WHERE user_address = $1", user)
    assert (state["balance_sats"], state["emergency_burned_sats"]) == (0, 90_000)
    assert state["seen_on_chain"] is True
    summary = await db.fetchrow(
        "SELECT burns, burned_sats FROM emergency_burn_summary WHERE user_address = $1", user
    )
    assert tuple(summary) == (1, 90_000)


async def test_oracle_operations_and_state_with_encrypted_fields(
    pipeline: Endpoints, db: asyncpg.Connection
) -> None:
    user = Protocol.new_user().lower()
    burn_tx = random_hash()
    address = "bc1qxy2kgdygjrsqtzq2n0yrf2493p83kkfjhx0wlh"
    operation = OracleOperation(
        operation_id=f"op-{random_hash()[2:18]}",
        action=OracleAction.BTC_ADDRESS_VERIFIED,
        user_address=user,
        bitcoin_address=address,
        consensus_reached=True,
        sources_used=["mempool.space", "blockstream"],
        status=OperationStatus.SUCCESS,
        occurred_at=T0,
        oracle_id="oracle-1",
    )
    state = OracleUserState(
        user_address=user,
        bitcoin_addresses=[
            WatchedBitcoinAddress(
                address=address, network=Network.MAINNET, verified_at=T0, monitoring=True
            ),
            WatchedBitcoinAddress(
                address="1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2",
                network=Network.MAINNET,
                verified_at=T0,
                monitoring=False,
            ),
        ],
        last_synced_sats=0,
        last_sync_at=T0,
        registered_at=T0,
        emergency_burns=[
            KnownEmergencyBurn(
                burned_sats=83_940,
                reason="Insufficient fees",
                tx_hash=burn_tx,
                block_number=77,
                occurred_at=T0,
            )
        ],
        operations_performed=7,
        as_of=T0 + timedelta(minutes=5),
    )
    older = state.model_copy(update={"operations_performed": 3, "as_of": T0})
    await publish(
        pipeline.kafka_bootstrap_servers,
        ORACLE_OPERATIONS.name,
        [(user.encode(), operation.to_json())],
    )
    await publish(
        pipeline.kafka_bootstrap_servers,
        ORACLE_STATE.name,
        [(user.encode(), state.to_json()), (user.encode(), older.to_json())],
    )
    # The chain reports the same burn the oracle knows of: one row, both flags.
    await publish(
        pipeline.kafka_bootstrap_servers,
        CHAIN_EVENTS.name,
        [
            (
                user.encode(),
                chain_event(
                    pipeline.deployment,
                    AGGREGATOR,
                    "EmergencyBurn",
                    {"user": user, "burnedAmount": "83940", "reason": "Insufficient fees"},
                    tx_hash=burn_tx,
                    block_number=77,
                ).to_json(),
            )
        ],
    )

    await eventually(
        lambda: db.fetchval(
            "SELECT seen_on_chain AND reported_by_oracle FROM emergency_burns "
            "WHERE user_address = $1",
            user,
        ),
        what="the burn seen on chain and reported by the oracle",
    )
    assert (
        await db.fetchval("SELECT count(*) FROM emergency_burns WHERE user_address = $1", user) == 1
    )
    fields = cipher(pipeline)
    logged = await db.fetchrow(
        "SELECT * FROM oracle_operations_log WHERE operation_id = $1", operation.operation_id
    )
    assert address.encode() not in bytes(logged["bitcoin_address_ciphertext"])
    assert (
        fields.decrypt(
            bytes(logged["bitcoin_address_ciphertext"]),
            context=f"oracle_operations_log.bitcoin_address:{operation.operation_id}",
        )
        == address
    )
    assert logged["sources_used"] == ["mempool.space", "blockstream"]
    addresses = await db.fetch(
        "SELECT address_ciphertext, address_lookup, monitoring FROM bitcoin_addresses "
        "WHERE user_address = $1 ORDER BY monitoring DESC",
        user,
    )
    assert [r["monitoring"] for r in addresses] == [True, False]
    assert bytes(addresses[0]["address_lookup"]) == bytes(logged["bitcoin_address_lookup"])
    assert (
        fields.decrypt(
            bytes(addresses[0]["address_ciphertext"]), context=f"bitcoin_addresses.address:{user}"
        )
        == address
    )
    oracle = await db.fetchrow("SELECT * FROM oracle_user_states WHERE user_address = $1", user)
    assert oracle["operations_performed"] == 7  # the older state, published later, lost
    current = await db.fetchrow("SELECT * FROM user_current_state WHERE user_address = $1", user)
    assert (current["known_to_oracle"], current["seen_on_chain"]) == (True, True)
    assert (current["bitcoin_addresses_verified"], current["bitcoin_addresses_monitored"]) == (2, 1)
    stats = await db.fetchrow(
        "SELECT operations, succeeded FROM oracle_operations_stats "
        "WHERE action = 'BTC_ADDRESS_VERIFIED'"
    )
    assert stats["operations"] >= 1
    assert stats["succeeded"] >= 1

    # A tombstone on the compacted state topic: the oracle no longer tracks the user.
    await publish(pipeline.kafka_bootstrap_servers, ORACLE_STATE.name, [(user.encode(), None)])
    await eventually(
        lambda: db.fetchval(
            "SELECT count(*) = 0 FROM oracle_user_states WHERE user_address = $1", user
        ),
        what="the forgotten oracle state",
    )


async def test_registry_keeps_the_newest_observation(
    pipeline: Endpoints, db: asyncpg.Connection
) -> None:
    chain_id = 900_000 + int(random_hash()[2:6], 16)
    newer = RegisteredContract(
        name=SystemContract.FEE_VAULT,
        address="0x" + "11" * 20,
        chain_id=chain_id,
        deployed_block=5,
        code_present=True,
        observed_at=T0 + timedelta(minutes=1),
    )
    older = newer.model_copy(update={"code_present": False, "observed_at": T0})
    await publish(
        pipeline.kafka_bootstrap_servers,
        REGISTRY.name,
        [(b"FeeVault", newer.to_json()), (b"FeeVault", older.to_json())],
    )
    row = await eventually(
        lambda: db.fetchrow("SELECT * FROM system_contracts WHERE chain_id = $1", chain_id),
        what="the registered contract",
    )
    assert (row["address"], row["code_present"]) == (newer.address, True)


async def test_yield_events_disputes_and_a_reorg(
    pipeline: Endpoints, db: asyncpg.Connection
) -> None:
    user = Protocol.new_user().lower()
    orphan_block = random_hash()
    joined = chain_event(
        pipeline.deployment,
        POOL,
        "ParticipantJoined",
        {"user": user, "participantType": "0", "amount": "5000"},
        block_number=200,
        at=T0,
    )
    disputed = chain_event(
        pipeline.deployment,
        POOL,
        "BalanceDisputed",
        {"user": user, "reportedBalance": "7000", "oracleBalance": "5000"},
        block_number=201,
        at=T0,
    )
    left = chain_event(
        pipeline.deployment,
        POOL,
        "ParticipantLeft",
        {"user": user, "participantType": "0", "amount": "5000"},
        block_number=202,
        block_hash=orphan_block,
        at=T0,
    )
    resolved = OracleOperation(
        operation_id=f"op-{random_hash()[2:18]}",
        action=OracleAction.DISPUTE_RESOLVED,
        user_address=user,
        amount_sats=5000,
        reason="oracle balance confirmed by 3 sources",
        consensus_reached=True,
        status=OperationStatus.SUCCESS,
        occurred_at=T0,
        oracle_id="oracle-1",
    )
    key = user.encode()
    await publish(
        pipeline.kafka_bootstrap_servers,
        CHAIN_EVENTS.name,
        [(key, e.to_json()) for e in (joined, disputed, left)],
    )
    await publish(
        pipeline.kafka_bootstrap_servers, ORACLE_OPERATIONS.name, [(key, resolved.to_json())]
    )
    await eventually(
        lambda: db.fetchval(
            "SELECT active = false FROM yield_scales_participants WHERE user_address = $1", user
        ),
        what="the participant who left",
    )

    async def both_facts() -> list[asyncpg.Record]:
        # The two facts come from two topics; wait for both, not for whichever lands first.
        found = await db.fetch(
            "SELECT kind, description_ciphertext FROM balance_disputes "
            "WHERE user_address = $1 ORDER BY kind",
            user,
        )
        return found if len(found) >= 2 else []

    disputes = await eventually(
        both_facts,
        what="both dispute facts",
    )
    assert [d["kind"] for d in disputes] == ["RAISED", "RESOLVED"]
    assert (
        cipher(pipeline).decrypt(
            bytes(disputes[1]["description_ciphertext"]),
            context=f"balance_disputes.description:{resolved.operation_id}",
        )
        == resolved.reason
    )
    counted = await db.fetchval(
        "SELECT sum(row_count) FROM sink_counters WHERE table_name = 'yield_operations_log'"
    )

    # The block that carried ParticipantLeft is orphaned: the user is a participant again.
    reorg = ChainReorg(
        chain_id=pipeline.deployment.chain_id,
        fork_block=202,
        orphaned_block_hashes=[orphan_block],
        new_head=BlockRef(number=202, hash=random_hash()),
    )
    await publish(pipeline.kafka_bootstrap_servers, CHAIN_EVENTS.name, [(key, reorg.to_json())])
    await eventually(
        lambda: db.fetchval(
            "SELECT active FROM yield_scales_participants WHERE user_address = $1", user
        ),
        what="the participant restored by the reorg",
    )
    assert (
        await db.fetchval("SELECT count(*) FROM yield_operations_log WHERE user_address = $1", user)
        == 2
    )
    assert (
        await db.fetchval(
            "SELECT sum(row_count) FROM sink_counters WHERE table_name = 'yield_operations_log'"
        )
        == counted - 1
    )


async def test_token_transfers_become_exact_movements_and_a_reorg_takes_them_back(
    pipeline: Endpoints, db: asyncpg.Connection
) -> None:
    """Mint (no row for the zero address), a self-transfer (out and in), the same event twice
    (one set of rows), a uint256 amount exact to the last digit, and its block orphaned."""
    a, b = Protocol.new_user().lower(), Protocol.new_user().lower()
    kept, orphaned = random_hash(), random_hash()
    huge = 2**256 - 1

    def transfer(
        token: SystemContract, sender: str, receiver: str, amount: int, *, at: tuple[int, str]
    ) -> ChainEvent:
        block, block_hash = at
        return chain_event(
            pipeline.deployment,
            token,
            "Transfer",
            {"from": sender, "to": receiver, "amount": str(amount)},
            block_number=block,
            block_hash=block_hash,
            at=T0,
        )

    minted = transfer(SYNTH, ZERO_ADDRESS, a, 1_000, at=(300, kept))
    to_self = transfer(SYNTH, a, a, 7, at=(300, kept))
    moved = transfer(VAULT, a, b, huge, at=(301, orphaned))
    events = [minted, to_self, moved, minted]
    bootstrap = pipeline.kafka_bootstrap_servers
    await publish(
        bootstrap, CHAIN_EVENTS.name, [(e.partition_key.encode(), e.to_json()) for e in events]
    )

    async def balances() -> dict[str, tuple[int, int]]:
        rows = await db.fetch(
            "SELECT user_address, rbtc_sats, wrbtc_sats FROM token_balances "
            "WHERE user_address = ANY($1::text[])",
            [a, b],
        )
        return {r["user_address"]: (int(r["rbtc_sats"]), int(r["wrbtc_sats"])) for r in rows}

    try:
        await eventually(
            lambda: db.fetchval(
                "SELECT count(*) = 5 FROM token_movements WHERE user_address = ANY($1::text[])",
                [a, b],
            ),
            what="five movements",
        )
        assert await balances() == {a: (1_000, -huge), b: (0, huge)}
        sides = await db.fetch(
            "SELECT direction, counterparty, amount, token_address FROM token_movements "
            "WHERE tx_hash = $1 ORDER BY direction",
            moved.tx_hash,
        )
        vault = pipeline.deployment.contracts[VAULT].address
        assert [tuple(r) for r in sides] == [("in", a, huge, vault), ("out", b, huge, vault)]
    finally:
        reorg = ChainReorg(
            chain_id=pipeline.deployment.chain_id,
            fork_block=301,
            orphaned_block_hashes=[orphaned],
            new_head=BlockRef(number=301, hash=random_hash()),
        )
        await publish(
            bootstrap, CHAIN_EVENTS.name, [(moved.partition_key.encode(), reorg.to_json())]
        )

    async def taken_back() -> dict[str, tuple[int, int]] | None:
        found = await balances()
        return found if b not in found else None

    assert await eventually(taken_back, what="the orphaned Transfer removed") == {a: (1_000, 0)}
