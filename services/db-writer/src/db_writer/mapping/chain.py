"""`chain.event/v1` → rows (the mapping table is in `db_writer.mapping`)."""

from __future__ import annotations

from reservesync.identity import burn_key
from reservesync.messages import ChainEvent
from reservesync.messages.chain import ZERO_ADDRESS

from db_writer.mapping.rows import Row, Rows, Source

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
YIELD_OPERATIONS = {
    "ParticipantJoined": "JOINED",
    "ParticipantLeft": "LEFT",
    "YieldCalculated": "YIELD_CALCULATED",
    "YieldClaimed": "YIELD_CLAIMED",
    "ScalesBalanceUpdated": "SCALES_UPDATED",
    "EmergencyBurnTriggered": "EMERGENCY_BURN_TRIGGERED",
    "BalanceDisputed": "BALANCE_DISPUTED",
}


# The only events that change who participates in the pool (and so need a recompute).
MEMBERSHIP_EVENTS = frozenset({"ParticipantJoined", "ParticipantLeft", "EmergencyBurnTriggered"})


def origin(event: ChainEvent, source: Source) -> Row:
    """The columns every chain row of one event shares: its place on chain and its message's
    in Kafka. Built once per event and copied into each of its rows (a Synced makes three)."""
    return {
        "chain_id": event.chain_id,
        "tx_hash": event.tx_hash,
        "log_index": event.log_index,
        "block_number": event.block_number,
        "block_hash": event.block_hash,
        "block_timestamp": event.block_timestamp,
        "src_topic": source.topic,
        "src_partition": source.partition,
        "src_offset": source.offset,
    }


def user_row(address: str, event: ChainEvent, source: Source) -> Row:
    return {
        "address": address,
        "first_seen_source": "chain",
        "first_seen_block": event.block_number,
        "first_seen_at": event.block_timestamp,
        "seen_on_chain": True,
        "known_to_oracle": False,
        **source.columns(),
    }


def chain_event_rows(event: ChainEvent, source: Source) -> Rows:
    rows = Rows()
    user = event.args.get("user")
    if isinstance(user, str) and user != ZERO_ADDRESS:
        rows.add("users", user_row(user, event, source))
    key = (event.contract.value, event.event)
    located = origin(event, source)
    if key == ("OracleAggregator", "Synced"):
        _synced(rows, event, located)
    elif key in MONEY_EVENTS:
        tx_type, amount_arg, unit = MONEY_EVENTS[key]
        rows.add(
            "transactions", _transaction(event, located, tx_type, event.arg_int(amount_arg), unit)
        )
    if key == ("OracleAggregator", "EmergencyBurn"):
        rows.add("emergency_burns", _emergency_burn(event, source))
    if key[0] == "YieldScalesPool":
        _yield(rows, event, source, located)
    return rows


def _transaction(event: ChainEvent, located: Row, tx_type: str, amount: int, unit: str) -> Row:
    return {
        **located,
        "user_address": str(event.args["user"]),
        "tx_type": tx_type,
        "amount": amount,
        "unit": unit,
        "balance_after_sats": None,
        "fee_wei": None,
        "contract": event.contract.value,
        "event": event.event,
    }


def is_emergency_synced(event: ChainEvent) -> bool:
    """The `Synced(user, 0, -prev, 0, 0, now)` the contract emits right after EmergencyBurn."""
    return (
        event.arg_int("newBalanceSats") == 0
        and event.arg_int("deltaSats") < 0
        and event.arg_int("feeWei") == 0
        and event.arg_int("height") == 0
    )


def _synced(rows: Rows, event: ChainEvent, located: Row) -> None:
    new = event.arg_int("newBalanceSats")
    delta = event.arg_int("deltaSats")
    fee = event.arg_int("feeWei")
    user = str(event.args["user"])
    emergency = is_emergency_synced(event)
    if not emergency:
        row = _transaction(event, located, "MINT" if delta > 0 else "BURN", abs(delta), "sats")
        row.update(balance_after_sats=new, fee_wei=fee)
        rows.add("transactions", row)
    rows.add(
        "balance_history",
        {
            **located,
            "user_address": user,
            "previous_sats": new - delta,
            "new_sats": new,
            "delta_sats": delta,
            "fee_wei": fee,
            "cause": "EMERGENCY_BURN" if emergency else "SYNC",
        },
    )
    rows.add(
        "balance_snapshots",
        {**located, "user_address": user, "balance_sats": new, "taken_at": event.block_timestamp},
    )


def _emergency_burn(event: ChainEvent, source: Source) -> Row:
    user = str(event.args["user"])
    burned = event.arg_int("burnedAmount")
    return {
        "burn_key": burn_key(user, event.tx_hash, burned, event.block_timestamp),
        "user_address": user,
        "burned_sats": burned,
        "reason": str(event.args["reason"]),
        "tx_hash": event.tx_hash,
        "block_number": event.block_number,
        "block_hash": event.block_hash,
        "occurred_at": event.block_timestamp,
        "seen_on_chain": True,
        "reported_by_oracle": False,
        **source.columns(),
    }


def _yield(rows: Rows, event: ChainEvent, source: Source, located: Row) -> None:
    user = event.args.get("user")
    amount = next(
        (event.arg_int(name) for name in ("amount", "burnedAmount") if name in event.args), None
    )
    kind = event.args.get("participantType")
    details = {
        k: v for k, v in event.args.items() if k not in ("user", "amount", "participantType")
    }
    rows.add(
        "yield_operations_log",
        {
            **located,
            "operation": YIELD_OPERATIONS[event.event],
            "user_address": user if isinstance(user, str) else None,
            "participant_type": int(kind) if isinstance(kind, str) else None,
            "amount": amount,
            "details": details,
        },
    )
    if isinstance(user, str) and event.event in MEMBERSHIP_EVENTS:
        rows.yield_users.add(user)
    if event.event == "BalanceDisputed":
        rows.add(
            "balance_disputes",
            {
                "user_address": str(event.args["user"]),
                "kind": "RAISED",
                "reported_balance": event.arg_int("reportedBalance"),
                "oracle_balance": event.arg_int("oracleBalance"),
                "description_ciphertext": None,
                "key_id": None,
                "occurred_at": event.block_timestamp,
                "tx_hash": event.tx_hash,
                "block_hash": event.block_hash,
                "operation_id": None,
                **source.columns(),
            },
        )
