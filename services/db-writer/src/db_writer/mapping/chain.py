"""`chain.event/v1` → rows (the mapping table is in `db_writer.mapping`)."""

from __future__ import annotations

from reservesync import ledger
from reservesync.contracts import SystemContract
from reservesync.messages import ChainEvent

from db_writer.mapping.rows import Row, Rows, Source
from db_writer.mapping.tokens import movement_rows, token_of

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
    """The chain and provenance columns every row of the event shares: built once per event,
    each row copies it (a dict per row and column was a third of the mapping's time)."""
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
    """The chain's evidence of a user (merged into `users`, see `db_writer.merged`)."""
    return {
        "address": address,
        "first_seen_at": event.block_timestamp,
        "first_seen_block": event.block_number,
        "source": "chain",
        "block_hash": event.block_hash,
        **source.columns(),
    }


def chain_event_rows(event: ChainEvent, source: Source) -> Rows:
    rows = Rows()
    meant = ledger.meaning(event)
    shared = origin(event, source)
    if meant.user is not None:
        rows.add("user_evidence", user_row(meant.user, event, source))
    if meant.movement is not None:
        rows.add("transactions", _transaction(event, shared, meant.movement, meant))
    if meant.synced_balance:
        _balance(rows, event, shared, meant)
    if meant.burn_key is not None:
        rows.add("emergency_burn_evidence", _emergency_burn(event, source, meant.burn_key))
    if event.contract is SystemContract.YIELD_SCALES_POOL:
        _yield(rows, event, shared, source)
    token = token_of(event)
    if token is not None:
        movement_rows(rows, event, token, shared)
    return rows


def _transaction(
    event: ChainEvent, shared: Row, moved: ledger.Movement, meant: ledger.Meaning
) -> Row:
    synced = meant.synced_balance
    return {
        **shared,
        "user_address": str(event.args["user"]),
        "tx_type": moved.tx_type,
        "amount": moved.amount,
        "unit": moved.unit,
        # A sync says the balance it leaves and the fee it charged; other events do not.
        "balance_after_sats": event.arg_int("newBalanceSats") if synced else None,
        "fee_wei": event.arg_int("feeWei") if synced else None,
        "contract": event.contract.value,
        "event": event.event,
    }


def _balance(rows: Rows, event: ChainEvent, shared: Row, meant: ledger.Meaning) -> None:
    new = event.arg_int("newBalanceSats")
    delta = event.arg_int("deltaSats")
    fee = event.arg_int("feeWei")
    user = str(event.args["user"])
    rows.add(
        "balance_history",
        {
            **shared,
            "user_address": user,
            "previous_sats": new - delta,
            "new_sats": new,
            "delta_sats": delta,
            "fee_wei": fee,
            "cause": "EMERGENCY_BURN" if meant.emergency_half else "SYNC",
        },
    )
    rows.add(
        "balance_snapshots",
        {
            **shared,
            "user_address": user,
            "balance_sats": new,
            "taken_at": event.block_timestamp,
        },
    )


def _emergency_burn(event: ChainEvent, source: Source, key: str) -> Row:
    return {
        "burn_key": key,
        "user_address": str(event.args["user"]),
        "burned_sats": event.arg_int("burnedAmount"),
        "reason": str(event.args["reason"]),
        "tx_hash": event.tx_hash,
        "block_number": event.block_number,
        "block_hash": event.block_hash,
        "occurred_at": event.block_timestamp,
        "source": "chain",
        **source.columns(),
    }


def _yield(rows: Rows, event: ChainEvent, shared: Row, source: Source) -> None:
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
            **shared,
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
