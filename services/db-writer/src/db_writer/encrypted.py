"""Where the encrypted fields live: each table's one ciphertext column, the key id column
beside it, and the context each value was sealed with (AES-GCM associated data, so a
ciphertext moved to another row or column does not open). The mapping in `mapping.oracle`
seals with these contexts; the checksum and the re-encryption job open with them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EncryptedColumn:
    table: str
    column: str
    context_sql: str
    """SQL expression of a row's context."""


DISPUTE_DESCRIPTIONS = EncryptedColumn(
    "balance_disputes",
    "description_ciphertext",
    "'balance_disputes.description:' || operation_id",
)
OPERATION_BITCOIN_ADDRESSES = EncryptedColumn(
    "oracle_operations_log",
    "bitcoin_address_ciphertext",
    "'oracle_operations_log.bitcoin_address:' || operation_id",
)
WATCHED_BITCOIN_ADDRESSES = EncryptedColumn(
    "bitcoin_addresses",
    "address_ciphertext",
    "'bitcoin_addresses.address:' || user_address",
)
ENCRYPTED = (DISPUTE_DESCRIPTIONS, OPERATION_BITCOIN_ADDRESSES, WATCHED_BITCOIN_ADDRESSES)
