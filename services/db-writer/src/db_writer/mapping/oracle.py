"""`oracle.operation/v1`, `oracle.user_state/v1` → rows (see the table in `db_writer.mapping`)."""

from __future__ import annotations

from reservesync import ledger
from reservesync.crypto import FieldCipher, normalise_bitcoin_address
from reservesync.encrypted_fields import (
    DISPUTE_DESCRIPTIONS,
    OPERATION_BITCOIN_ADDRESSES,
    WATCHED_BITCOIN_ADDRESSES,
)
from reservesync.messages import (
    KnownEmergencyBurn,
    OperationStatus,
    OracleAction,
    OracleOperation,
    OracleUserState,
)

from db_writer.mapping.rows import Row, Rows, Source

BITCOIN_ADDRESS_LOOKUP = "bitcoin-address"


def oracle_user_row(address: str, seen_at: object, source: Source) -> Row:
    """The oracle's evidence of a user (merged into `users`, see `db_writer.merged`)."""
    return {
        "address": address,
        "first_seen_at": seen_at,
        "first_seen_block": None,
        "source": "oracle",
        "block_hash": None,
        **source.columns(),
    }


def operation_rows(op: OracleOperation, source: Source, cipher: FieldCipher) -> Rows:
    rows = Rows()
    rows.add("user_evidence", oracle_user_row(op.user_address, op.occurred_at, source))
    rows.add("oracle_operations_log", _operation_row(op, source, cipher))
    burn = ledger.reported_burn(op)
    if burn is not None:
        rows.add("emergency_burn_evidence", _oracle_burn(op.user_address, burn, source))
    if op.action is OracleAction.DISPUTE_RESOLVED and op.status is OperationStatus.SUCCESS:
        rows.add("balance_disputes", _resolved_dispute(op, source, cipher))
    return rows


def _operation_row(op: OracleOperation, source: Source, cipher: FieldCipher) -> Row:
    ciphertext = lookup = key_id = None
    if op.bitcoin_address is not None:
        ciphertext = cipher.encrypt(
            op.bitcoin_address, context=OPERATION_BITCOIN_ADDRESSES.context(op.operation_id)
        )
        lookup = cipher.lookup_hash(
            normalise_bitcoin_address(op.bitcoin_address), purpose=BITCOIN_ADDRESS_LOOKUP
        )
        key_id = cipher.key_id_of(ciphertext)
    return {
        "operation_id": op.operation_id,
        "action": op.action.value,
        "user_address": op.user_address,
        "bitcoin_address_ciphertext": ciphertext,
        "bitcoin_address_lookup": lookup,
        "key_id": key_id,
        "amount_sats": op.amount_sats,
        "previous_sats": op.previous_sats,
        "tx_hash": op.tx_hash,
        "block_number": op.block_number,
        "reason": op.reason,
        "consensus_reached": op.consensus_reached,
        "sources_used": list(op.sources_used),
        "status": op.status.value,
        "occurred_at": op.occurred_at,
        "oracle_id": op.oracle_id,
        **source.columns(),
    }


def _resolved_dispute(op: OracleOperation, source: Source, cipher: FieldCipher) -> Row:
    description = None
    if op.reason:
        context = DISPUTE_DESCRIPTIONS.context(op.operation_id)
        description = cipher.encrypt(op.reason, context=context)
    return {
        "user_address": op.user_address,
        "kind": "RESOLVED",
        "reported_balance": None,
        "oracle_balance": op.amount_sats,
        "description_ciphertext": description,
        "key_id": cipher.key_id_of(description) if description else None,
        "occurred_at": op.occurred_at,
        "tx_hash": op.tx_hash,
        "block_hash": None,
        "operation_id": op.operation_id,
        **source.columns(),
    }


def state_rows(state: OracleUserState, source: Source, cipher: FieldCipher) -> Rows:
    rows = Rows()
    user = state.user_address
    rows.add("user_evidence", oracle_user_row(user, state.registered_at or state.as_of, source))
    rows.add(
        "oracle_user_states",
        {
            "user_address": user,
            "last_synced_sats": state.last_synced_sats,
            "last_sync_at": state.last_sync_at,
            "registered_at": state.registered_at,
            "operations_performed": state.operations_performed,
            "known_burns": len(state.emergency_burns),
            "as_of": state.as_of,
            **source.columns(),
        },
    )
    for watched in state.bitcoin_addresses:
        ciphertext = cipher.encrypt(
            watched.address, context=WATCHED_BITCOIN_ADDRESSES.context(user)
        )
        rows.add(
            "bitcoin_addresses",
            {
                "user_address": user,
                "address_ciphertext": ciphertext,
                "address_lookup": cipher.lookup_hash(
                    normalise_bitcoin_address(watched.address), purpose=BITCOIN_ADDRESS_LOOKUP
                ),
                "key_id": cipher.key_id_of(ciphertext),
                "network": watched.network.value,
                "verified_at": watched.verified_at,
                "monitoring": watched.monitoring,
                **source.columns(),
            },
        )
    for burn in state.emergency_burns:
        rows.add("emergency_burn_evidence", _oracle_burn(user, burn, source))
    return rows


def _oracle_burn(user: str, burn: KnownEmergencyBurn, source: Source) -> Row:
    return {
        "burn_key": ledger.oracle_burn_key(user, burn),
        "user_address": user,
        "burned_sats": burn.burned_sats,
        "reason": burn.reason,
        "tx_hash": burn.tx_hash,
        "block_number": burn.block_number,
        "block_hash": None,
        "occurred_at": burn.occurred_at,
        "source": "oracle",
        **source.columns(),
    }
