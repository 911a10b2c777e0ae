"""From messages to rows: the one place that says what each message becomes in Postgres.

| message                              | rows                                                     |
|--------------------------------------|----------------------------------------------------------|
| OracleAggregator.Synced, delta > 0   | transactions MINT (sats, balance after, fee) + user      |
| OracleAggregator.Synced, delta < 0   | transactions BURN (sats, balance after, fee) + user      |
| OracleAggregator.Synced(0, -p, 0, 0) | user only: the balance half of an emergency burn, whose  |
|                                      | money movement is the EmergencyBurn row just before it   |
| OracleAggregator.EmergencyBurn       | transactions EMERGENCY_BURN (sats) + user                |
| OracleAggregator.NeedsTopUp          | user                                                     |
| FeeVault.Deposited/Spent/Withdrawn   | transactions DEPOSIT / FEE_SPENT / WITHDRAW (wei) + user |
| VaultWrBTC.Wrapped/Redeemed/Slashed  | transactions WRAP / REDEEM / SLASH (sats) + user         |
| YieldScalesPool.YieldClaimed         | transactions YIELD_CLAIM (sats) + user                   |
| any other event with a user argument | user                                                     |
| Transfer, Approval (rBTC, wrBTC)     | nothing: Synced, Wrapped etc. carry the amounts          |

Users are discovered from `user` arguments only: `from`/`to`/`spender` also name contracts
(the wrap vault), which are not users. Every row carries the topic, partition and offset of
its message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from reservesync.messages import ChainEvent
from reservesync.messages.chain import ZERO_ADDRESS

# (contract, event) -> (tx_type, amount argument, unit)
MONEY_EVENTS: dict[tuple[str, str], tuple[str, str, str]] = {
    ("OracleAggregator", "EmergencyBurn"): ("EMERGENCY_BURN", "burnedAmount", "sats"),
    ("FeeVault", "Deposited"): ("DEPOSIT", "amount", "wei"),
    ("FeeVault", "Spent"): ("FEE_SPENT", "amount", "wei"),
    ("FeeVault", "Withdrawn"): ("WITHDRAW", "amount", "wei"),
    ("VaultWrBTC", "Wrapped"): ("WRAP", "amount", "sats"),
    ("VaultWrBTC", "Redeemed"): ("REDEEM", "amount", "sats"),
    ("VaultWrBTC", "Slashed"): ("SLASH", "amount", "sats"),
    ("YieldScalesPool", "YieldClaimed"): ("YIELD_CLAIM", "amount", "sats"),
}


@dataclass(frozen=True)
class Source:
    topic: str
    partition: int
    offset: int


@dataclass
class Rows:
    """Rows one batch produces, per table, as column dicts in insertion order."""

    users: list[dict[str, Any]] = field(default_factory=list)
    transactions: list[dict[str, Any]] = field(default_factory=list)

    def extend(self, other: Rows) -> None:
        self.users.extend(other.users)
        self.transactions.extend(other.transactions)


def _provenance(source: Source) -> dict[str, Any]:
    return {
        "src_topic": source.topic,
        "src_partition": source.partition,
        "src_offset": source.offset,
    }


def _transaction(
    event: ChainEvent, source: Source, *, user: str, tx_type: str, amount: int, unit: str
) -> dict[str, Any]:
    return {
        "chain_id": event.chain_id,
        "tx_hash": event.tx_hash,
        "log_index": event.log_index,
        "block_number": event.block_number,
        "block_hash": event.block_hash,
        "block_timestamp": event.block_timestamp,
        "user_address": user,
        "tx_type": tx_type,
        "amount": amount,
        "unit": unit,
        "balance_after_sats": None,
        "fee_wei": None,
        "contract": event.contract.value,
        "event": event.event,
        **_provenance(source),
    }


def _user(address: str, block: int, seen_at: datetime, source: Source) -> dict[str, Any]:
    return {
        "address": address,
        "first_seen_source": "chain",
        "first_seen_block": block,
        "first_seen_at": seen_at,
        **_provenance(source),
    }


def chain_event_rows(event: ChainEvent, source: Source) -> Rows:
    rows = Rows()
    user = event.args.get("user")
    if isinstance(user, str) and user != ZERO_ADDRESS:
        rows.users.append(_user(user, event.block_number, event.block_timestamp, source))

    key = (event.contract.value, event.event)
    if key == ("OracleAggregator", "Synced"):
        rows.transactions.extend(_synced(event, source))
    elif key in MONEY_EVENTS:
        tx_type, amount_arg, unit = MONEY_EVENTS[key]
        user = str(event.args["user"])
        rows.transactions.append(
            _transaction(
                event,
                source,
                user=user,
                tx_type=tx_type,
                amount=event.arg_int(amount_arg),
                unit=unit,
            )
        )
    return rows


def _synced(event: ChainEvent, source: Source) -> list[dict[str, Any]]:
    delta = event.arg_int("deltaSats")
    fee = event.arg_int("feeWei")
    new_balance = event.arg_int("newBalanceSats")
    if delta == 0 or (new_balance == 0 and fee == 0 and event.arg_int("height") == 0 and delta < 0):
        return []
    row = _transaction(
        event,
        source,
        user=str(event.args["user"]),
        tx_type="MINT" if delta > 0 else "BURN",
        amount=abs(delta),
        unit="sats",
    )
    row["balance_after_sats"] = new_balance
    row["fee_wei"] = fee
    return [row]
