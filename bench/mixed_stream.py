"""The benchmarks' chain: a deterministic stream of mixed `chain.event/v1`, each event
consistent with those before it, as the db-writer's benchmarks (sink, scaling, the writer's
profile, Kafka Connect) and health's publish it."""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from hashlib import sha256

from devstack.deploy import DeploymentRecord
from reservesync.contracts import SystemContract
from reservesync.messages import ChainEvent, make_event_id

USERS = 20_000
# Steps of the stream and their weights. An emergency burn is two events (EmergencyBurn and
# its Synced(user, 0, -previous, 0, 0)), so per 100 events: 40 Synced, 30 Deposited, 20 Spent,
# 5 of emergency burns and 5 of YieldScalesPool (ParticipantJoined, then YieldClaimed).
STEPS = {"synced": 40.0, "deposited": 30.0, "spent": 20.0, "emergency_burn": 2.5, "yield": 5.0}
MIX = "40% Synced, 30% Deposited, 20% Spent, 5% EmergencyBurn+Synced, 5% YieldScalesPool"
TXS_PER_BLOCK = 10
FIRST_BLOCK = 5_000_000
SYNC_FEE_WEI = 2 * 10**15
MINT_SHARE = 0.6

AGGREGATOR = SystemContract.ORACLE_AGGREGATOR
VAULT = SystemContract.FEE_VAULT
POOL = SystemContract.YIELD_SCALES_POOL

Record = tuple[bytes, bytes]
"""(key, value) of one Kafka record, serialised before the clock starts."""


def _hash(kind: str, number: int) -> str:
    return "0x" + sha256(f"{kind}:{number}".encode()).hexdigest()


class MixedStream:
    """Chain events over `USERS` users, each consistent with those before it: balances add up
    per user, an emergency burn takes the whole balance, a claim follows a join. Deterministic;
    every step is a transaction of its own (unique hashes), `TXS_PER_BLOCK` to a block."""

    def __init__(self, deployment: DeploymentRecord, seed: int = 7) -> None:
        self.deployment = deployment
        self.rng = random.Random(seed)
        self.users = ["0x" + _hash("user", i)[2:42] for i in range(USERS)]
        self.balances = dict.fromkeys(self.users, 0)
        self.joined: set[str] = set()
        self.started = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)
        self.tx = 0

    def events(self, count: int) -> Iterator[ChainEvent]:
        steps: dict[str, Callable[[str], list[ChainEvent]]] = {
            "synced": self._synced,
            "deposited": self._deposited,
            "spent": self._spent,
            "emergency_burn": self._emergency_burn,
            "yield": self._yield,
        }
        names, weights = list(STEPS), list(STEPS.values())
        while True:
            self.tx += 1
            step = steps[self.rng.choices(names, weights)[0]]
            yield from step(self.rng.choice(self.users))

    def _event(
        self, contract: SystemContract, name: str, args: dict[str, str | bool], log_index: int = 0
    ) -> ChainEvent:
        block = self.tx // TXS_PER_BLOCK
        tx_hash = _hash("tx", self.tx)
        return ChainEvent(
            event_id=make_event_id(self.deployment.chain_id, tx_hash, log_index),
            chain_id=self.deployment.chain_id,
            block_number=FIRST_BLOCK + block,
            block_hash=_hash("block", block),
            block_timestamp=self._at(),
            tx_hash=tx_hash,
            tx_index=self.tx % TXS_PER_BLOCK,
            log_index=log_index,
            contract=contract,
            address=self.deployment.contracts[contract].address,
            event=name,
            args=args,
        )

    def _at(self) -> datetime:
        return self.started + timedelta(seconds=self.tx // TXS_PER_BLOCK)

    def _synced(self, user: str) -> list[ChainEvent]:
        balance = self.balances[user]
        if balance == 0 or self.rng.random() < MINT_SHARE:
            delta = self.rng.randint(1_000, 1_000_000)
        else:
            delta = -self.rng.randint(1, balance)
        self.balances[user] = balance + delta
        args: dict[str, str | bool] = {
            "user": user,
            "newBalanceSats": str(balance + delta),
            "deltaSats": str(delta),
            "feeWei": str(SYNC_FEE_WEI),
            "height": "840000",
            "timestamp": str(int(self._at().timestamp())),
        }
        return [self._event(AGGREGATOR, "Synced", args)]

    def _deposited(self, user: str) -> list[ChainEvent]:
        amount = str(self.rng.randint(10**15, 10**17))
        return [self._event(VAULT, "Deposited", {"user": user, "amount": amount})]

    def _spent(self, user: str) -> list[ChainEvent]:
        by = self.deployment.contracts[AGGREGATOR].address
        amount = str(self.rng.randint(10**15, 10**16))
        return [self._event(VAULT, "Spent", {"user": user, "amount": amount, "by": by})]

    def _emergency_burn(self, user: str) -> list[ChainEvent]:
        burned = self.balances[user]
        if burned == 0:
            return self._synced(user)  # nothing to burn yet: a mint instead
        self.balances[user] = 0
        burn: dict[str, str | bool] = {
            "user": user,
            "burnedAmount": str(burned),
            "reason": "reserve shortfall",
        }
        balance: dict[str, str | bool] = {
            "user": user,
            "newBalanceSats": "0",
            "deltaSats": str(-burned),
            "feeWei": "0",
            "height": "0",
            "timestamp": str(int(self._at().timestamp())),
        }
        return [
            self._event(AGGREGATOR, "EmergencyBurn", burn),
            self._event(AGGREGATOR, "Synced", balance, log_index=1),
        ]

    def _yield(self, user: str) -> list[ChainEvent]:
        amount = str(self.rng.randint(1_000, 100_000))
        if user in self.joined:
            return [self._event(POOL, "YieldClaimed", {"user": user, "amount": amount})]
        self.joined.add(user)
        kind = str(self.rng.randint(0, 1))
        args: dict[str, str | bool] = {"user": user, "participantType": kind, "amount": amount}
        return [self._event(POOL, "ParticipantJoined", args)]


def serialised(deployment: DeploymentRecord, count: int) -> list[Record]:
    """The stream as Kafka records, keyed by user as the chain-listener keys them."""
    events = itertools.islice(MixedStream(deployment).events(count), count)
    return [(event.partition_key.encode(), event.to_json()) for event in events]
