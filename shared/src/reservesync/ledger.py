"""What the chain and the oracle publish means for the ledger: which chain event is a money
movement (one `transactions` row), whose user it names, and which reports are emergency burns.

One definition for the db-writer, which writes these rows, and the health service, which
counts them at the source: if the two disagreed, the score would measure the disagreement.
"""

from __future__ import annotations

from dataclasses import dataclass

from reservesync.identity import burn_key
from reservesync.messages import (
    ChainEvent,
    KnownEmergencyBurn,
    OperationStatus,
    OracleAction,
    OracleOperation,
)
from reservesync.messages.chain import ZERO_ADDRESS


@dataclass(frozen=True)
class MoneyEvent:
    tx_type: str
    amount_arg: str
    unit: str


# (contract, event) -> what the event moves; `OracleAggregator.Synced` is decided per event.
MONEY_EVENTS: dict[tuple[str, str], MoneyEvent] = {
    ("OracleAggregator", "EmergencyBurn"): MoneyEvent("EMERGENCY_BURN", "burnedAmount", "sats"),
    ("FeeVault", "Deposited"): MoneyEvent("DEPOSIT", "amount", "wei"),
    ("FeeVault", "Spent"): MoneyEvent("FEE_SPENT", "amount", "wei"),
    ("FeeVault", "Withdrawn"): MoneyEvent("WITHDRAW", "amount", "wei"),
    ("VaultWrBTC", "Wrapped"): MoneyEvent("WRAP", "amount", "sats"),
    ("VaultWrBTC", "Redeemed"): MoneyEvent("REDEEM", "amount", "sats"),
    ("VaultWrBTC", "Slashed"): MoneyEvent("SLASH", "amount", "sats"),
    ("YieldScalesPool", "YieldClaimed"): MoneyEvent("YIELD_CLAIM", "amount", "sats"),
}
SYNCED = ("OracleAggregator", "Synced")
EMERGENCY_BURN = ("OracleAggregator", "EmergencyBurn")


@dataclass(frozen=True)
class Movement:
    """The money one chain event moves: a `transactions` row's type, amount and unit."""

    tx_type: str
    amount: int
    unit: str


def is_emergency_synced(event: ChainEvent) -> bool:
    """The `Synced(user, 0, -prev, 0, 0, now)` the contract emits right after EmergencyBurn:
    the balance half of a burn whose money movement is the EmergencyBurn event itself."""
    return (
        event.arg_int("newBalanceSats") == 0
        and event.arg_int("deltaSats") < 0
        and event.arg_int("feeWei") == 0
        and event.arg_int("height") == 0
    )


def movement(event: ChainEvent) -> Movement | None:
    """The money movement of a chain event, or None when it is not a transaction."""
    key = _kind(event)
    return _movement(event, key, key == SYNCED and is_emergency_synced(event))


def _kind(event: ChainEvent) -> tuple[str, str]:
    return (event.contract.value, event.event)


def _movement(event: ChainEvent, key: tuple[str, str], emergency_half: bool) -> Movement | None:
    if key == SYNCED:
        if emergency_half:
            return None
        delta = event.arg_int("deltaSats")
        return Movement("MINT" if delta > 0 else "BURN", abs(delta), "sats")
    money = MONEY_EVENTS.get(key)
    if money is None:
        return None
    return Movement(money.tx_type, event.arg_int(money.amount_arg), money.unit)


def event_user(event: ChainEvent) -> str | None:
    """The user a chain event makes known. Only `user` arguments count: `from`, `to` and
    `spender` also name contracts."""
    user = event.args.get("user")
    if isinstance(user, str) and user != ZERO_ADDRESS:
        return user
    return None


def chain_burn_key(event: ChainEvent) -> str | None:
    """The identity of the emergency burn an `EmergencyBurn` event reports, else None."""
    return _burn_key(event) if _kind(event) == EMERGENCY_BURN else None


def _burn_key(event: ChainEvent) -> str:
    user = str(event.args["user"])
    return burn_key(user, event.tx_hash, event.arg_int("burnedAmount"), event.block_timestamp)


@dataclass(frozen=True)
class Meaning:
    """Everything one chain event means to the books, decided once: the db-writer maps these
    into rows, health folds them into its world, and neither asks the questions again."""

    user: str | None
    """The user it makes known."""
    movement: Movement | None
    """The money it moves: one `transactions` row."""
    synced_balance: bool
    """It states a user's synced balance (`Synced`): `balance_history` and snapshots."""
    emergency_half: bool
    """That balance is the zeroing half of an emergency burn, not a sync."""
    burn_key: str | None
    """The emergency burn it reports."""


def meaning(event: ChainEvent) -> Meaning:
    # Every chain event the db-writer maps passes here: the event's kind and whether it is
    # an emergency burn's half are worked out once, not once per question.
    key = _kind(event)
    synced = key == SYNCED
    emergency_half = synced and is_emergency_synced(event)
    return Meaning(
        user=event_user(event),
        movement=_movement(event, key, emergency_half),
        synced_balance=synced,
        emergency_half=emergency_half,
        burn_key=_burn_key(event) if key == EMERGENCY_BURN else None,
    )


def reported_burn(op: OracleOperation) -> KnownEmergencyBurn | None:
    """The emergency burn a successful `EMERGENCY_BURN` operation with an amount reports."""
    if (
        op.action is not OracleAction.EMERGENCY_BURN
        or op.status is not OperationStatus.SUCCESS
        or op.amount_sats is None
    ):
        return None
    return KnownEmergencyBurn(
        burned_sats=op.amount_sats,
        reason=op.reason or "",
        tx_hash=op.tx_hash,
        block_number=op.block_number,
        occurred_at=op.occurred_at,
    )


def oracle_burn_key(user: str, burn: KnownEmergencyBurn) -> str:
    return burn_key(user, burn.tx_hash, burn.burned_sats, burn.occurred_at)
