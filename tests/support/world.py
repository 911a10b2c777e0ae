"""A small world written into a database of its own by the db-writer's own code (its mapping
and its `SinkStore`), and what every endpoint must then say about it.

| user  | chain                                              | oracle state                 |
|-------|----------------------------------------------------|------------------------------|
| alice | 5 deposits, mints 120k and 30k, burn 20k (=130k),  | 130k (in sync), 2 BTC        |
|       | wrap 50k, redeem 10k, slash 5k, joins the pool     | addresses; a dispute raised  |
|       | with 40k, claims 1,234; dispute raised             | and resolved                 |
| bob   | mint 90k, emergency burn of all 90k (=0), dispute  | 70k (stale), knows the burn  |
|       | raised (open)                                      |                              |
| carol | nothing                                            | 40k (stale), 1 BTC address   |
| dave  | mint 10k                                           | none (not registered)        |
| erin  | (no user) 15k wrBTC alice sent her                 | none                         |

Every mint, burn, wrap, redeem and slash also moves the tokens as the contracts do, with
Transfers (rBTC and wrBTC): alice holds 90k rBTC and 20k wrBTC, the vault 35k rBTC, dave 10k
rBTC, erin 15k wrBTC: an rBTC supply of 135k, 35k wrBTC outstanding.

Plus the pool's YieldCalculated and ScalesBalanceUpdated, and YieldScalesPool's registration.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from db_writer.mapping import Rows, Source, rows_for
from db_writer.storage import SinkStore
from devstack.deploy import DeploymentRecord
from eth_account import Account
from eth_account.signers.local import LocalAccount
from reservesync.contracts import SystemContract
from reservesync.crypto import FieldCipher
from reservesync.messages import (
    KnownEmergencyBurn,
    Message,
    Network,
    OperationStatus,
    OracleAction,
    OracleOperation,
    OracleUserState,
    RegisteredContract,
    WatchedBitcoinAddress,
)
from reservesync.topics import CHAIN_EVENTS, ORACLE_OPERATIONS, ORACLE_STATE, REGISTRY

from tests.support.messages import T0, chain_event, random_hash, synced_args

AGGREGATOR = SystemContract.ORACLE_AGGREGATOR
VAULT = SystemContract.VAULT_WRBTC
SYNTH = SystemContract.RBTC_SYNTH
ZERO = "0x" + "0" * 40
POOL = SystemContract.YIELD_SCALES_POOL
FEES = SystemContract.FEE_VAULT

# Keys of their own, so the owner-proof tests can sign as alice.
ALICE: LocalAccount = Account.from_key("0x" + "a1" * 32)
BOB: LocalAccount = Account.from_key("0x" + "b0" * 32)
CAROL: LocalAccount = Account.from_key("0x" + "ca" * 32)
DAVE: LocalAccount = Account.from_key("0x" + "da" * 32)
ERIN: LocalAccount = Account.from_key("0x" + "e1" * 32)
ALICE_BTC = ("bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq", "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2")
CAROL_BTC = "tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx"
BOB_BURN_TX = random_hash()


def address(account: LocalAccount) -> str:
    return str(account.address).lower()


@dataclass
class World:
    deployment: DeploymentRecord
    messages: list[tuple[str, Message]] = field(default_factory=list)
    block: int = 1000
    block_hash: str = ""

    def chain(
        self,
        contract: SystemContract,
        event: str,
        args: dict[str, str | bool],
        *,
        same_block: bool = False,
        tx_hash: str | None = None,
        log_index: int = 0,
    ) -> None:
        """One event, in a block of its own (minutes apart) unless `same_block`."""
        if not same_block:
            self.block += 1
            self.block_hash = random_hash()
        event_ = chain_event(
            self.deployment,
            contract,
            event,
            dict(args),
            tx_hash=tx_hash,
            log_index=log_index,
            block_number=self.block,
            block_hash=self.block_hash,
            at=self.at(self.block - 1000),
        )
        self.messages.append((CHAIN_EVENTS.name, event_))

    def synced(
        self,
        user: str,
        new: int,
        delta: int,
        fee: int = 10**15,
        *,
        same_block: bool = False,
        tx_hash: str | None = None,
        log_index: int = 0,
    ) -> None:
        args = synced_args(user, new, delta, fee)
        self.chain(
            AGGREGATOR, "Synced", args, same_block=same_block, tx_hash=tx_hash, log_index=log_index
        )

    def transfer(
        self,
        token: SystemContract,
        sender: str,
        receiver: str,
        amount: int,
        *,
        same_block: bool = True,
        tx_hash: str | None = None,
        log_index: int = 0,
    ) -> None:
        """A Transfer of rBTC or wrBTC, by default in the block of the event before it."""
        self.chain(
            token,
            "Transfer",
            {"from": sender, "to": receiver, "amount": str(amount)},
            same_block=same_block,
            tx_hash=tx_hash,
            log_index=log_index,
        )

    def at(self, minutes: int) -> datetime:
        return T0 + timedelta(minutes=minutes)


def build(deployment: DeploymentRecord) -> World:
    world = World(deployment)
    alice, bob, carol, dave = (address(a) for a in (ALICE, BOB, CAROL, DAVE))
    for _ in range(5):
        world.chain(FEES, "Deposited", {"user": alice, "amount": str(10**16)})
    vault = deployment.contracts[VAULT].address
    world.synced(alice, 120_000, 120_000)
    world.transfer(SYNTH, ZERO, alice, 120_000)
    world.synced(alice, 150_000, 30_000)
    world.transfer(SYNTH, ZERO, alice, 30_000)
    world.synced(alice, 130_000, -20_000)
    world.transfer(SYNTH, alice, ZERO, 20_000)
    world.chain(VAULT, "Wrapped", {"user": alice, "amount": "50000"})
    world.transfer(SYNTH, alice, vault, 50_000)
    world.transfer(VAULT, ZERO, alice, 50_000)
    world.chain(VAULT, "Redeemed", {"user": alice, "amount": "10000"})
    world.transfer(VAULT, alice, ZERO, 10_000)
    world.transfer(SYNTH, vault, alice, 10_000)
    world.chain(VAULT, "Slashed", {"user": alice, "amount": "5000"})
    world.transfer(VAULT, alice, ZERO, 5_000)
    world.transfer(SYNTH, vault, ZERO, 5_000)
    world.transfer(VAULT, alice, address(ERIN), 15_000, same_block=False)
    world.chain(
        POOL, "ParticipantJoined", {"user": alice, "participantType": "0", "amount": "40000"}
    )
    world.chain(POOL, "YieldClaimed", {"user": alice, "amount": "1234"})
    world.chain(
        POOL,
        "BalanceDisputed",
        {"user": alice, "reportedBalance": "131000", "oracleBalance": "130000"},
    )
    world.synced(bob, 90_000, 90_000)
    world.transfer(SYNTH, ZERO, bob, 90_000)
    burn_block = world.block + 1
    world.chain(
        AGGREGATOR,
        "EmergencyBurn",
        {"user": bob, "burnedAmount": "90000", "reason": "Insufficient fees"},
        tx_hash=BOB_BURN_TX,
        log_index=1,
    )
    world.transfer(SYNTH, bob, ZERO, 90_000, tx_hash=BOB_BURN_TX, log_index=0)
    world.synced(bob, 0, -90_000, fee=0, same_block=True, tx_hash=BOB_BURN_TX, log_index=2)
    world.chain(
        POOL, "BalanceDisputed", {"user": bob, "reportedBalance": "90000", "oracleBalance": "0"}
    )
    world.synced(dave, 10_000, 10_000)
    world.transfer(SYNTH, ZERO, dave, 10_000)
    world.chain(
        POOL,
        "YieldCalculated",
        {"totalUSDTVirtual": "5000000", "totalRBTCSupply": "140000", "currentYieldRate": "350"},
    )
    world.chain(
        POOL,
        "ScalesBalanceUpdated",
        {"usdtScale": "7", "rbtcScale": "3", "timestamp": "1757670000"},
    )
    world.messages.append(
        (
            REGISTRY.name,
            RegisteredContract(
                name=POOL,
                address=deployment.contracts[POOL].address,
                chain_id=deployment.chain_id,
                deployed_block=1,
                code_present=True,
                observed_at=world.at(0),
            ),
        )
    )
    world.messages.append(
        (
            ORACLE_OPERATIONS.name,
            OracleOperation(
                operation_id="op-alice-dispute-resolved",
                action=OracleAction.DISPUTE_RESOLVED,
                user_address=alice,
                amount_sats=130_000,
                reason="the reported balance counted an unconfirmed deposit",
                consensus_reached=True,
                status=OperationStatus.SUCCESS,
                occurred_at=world.at(500),
                oracle_id="oracle-1",
            ),
        )
    )
    states = [
        (alice, 130_000, [(a, True) for a in ALICE_BTC], [], world.at(10)),
        (bob, 70_000, [], [(90_000, BOB_BURN_TX, burn_block)], world.at(5)),
        (carol, 40_000, [(CAROL_BTC, False)], [], world.at(30)),
    ]
    for user, sats, btc, burns, last_sync in states:
        world.messages.append(
            (
                ORACLE_STATE.name,
                OracleUserState(
                    user_address=user,
                    bitcoin_addresses=[
                        WatchedBitcoinAddress(
                            address=a,
                            network=Network.TESTNET if a.startswith("tb1") else Network.MAINNET,
                            verified_at=world.at(1) if verified else None,
                            monitoring=a.startswith("bc1") or a.startswith("tb1"),
                        )
                        for a, verified in btc
                    ],
                    last_synced_sats=sats,
                    last_sync_at=last_sync,
                    registered_at=world.at(0),
                    emergency_burns=[
                        KnownEmergencyBurn(
                            burned_sats=burned,
                            reason="Insufficient fees",
                            tx_hash=tx,
                            block_number=block,
                            occurred_at=world.at(block - 1000),
                        )
                        for burned, tx, block in burns
                    ],
                    operations_performed=7,
                    as_of=world.at(600),
                ),
            )
        )
    return world


async def write(world: World, writer_url: str, cipher: FieldCipher) -> None:
    """Every message through the writer's mapping and store, one batch per message, as the
    db-writer applies them (offsets per topic on partition 0)."""
    store = await SinkStore.connect(writer_url, "api-tests", 2)
    try:
        offsets: dict[str, int] = {}
        for topic, message in world.messages:
            offset = offsets.get(topic, 0)
            rows = Rows()
            rows.extend(rows_for(message, Source(topic, 0, offset), cipher))
            await store.write(rows, {(topic, 0): offset + 1})
            offsets[topic] = offset + 1
    finally:
        await store.close()
