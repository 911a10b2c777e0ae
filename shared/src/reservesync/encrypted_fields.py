"""Where the encrypted fields live: each table's one ciphertext column, the key id column
beside it, and the context each value is sealed with (AES-GCM associated data, so a ciphertext
moved to another row or column does not open). The db-writer seals with `context(key)`, the
API opens with it; the checksum and the re-encryption job open rows in SQL with
`context_sql`: both spell the same string."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EncryptedColumn:
    table: str
    column: str
    label: str
    """The context's fixed part: `{table}.{field}`."""
    key_column: str
    """The row's column (or SQL expression over the row) that completes the context."""

    def context(self, key: str) -> str:
        return f"{self.label}:{key}"

    @property
    def context_sql(self) -> str:
        """The same context as a SQL expression over a row of `table`."""
        return f"'{self.label}:' || {self.key_column}"


DISPUTE_DESCRIPTIONS = EncryptedColumn(
    "balance_disputes", "description_ciphertext", "balance_disputes.description", "operation_id"
)
OPERATION_BITCOIN_ADDRESSES = EncryptedColumn(
    "oracle_operations_log",
    "bitcoin_address_ciphertext",
    "oracle_operations_log.bitcoin_address",
    "operation_id",
)
WATCHED_BITCOIN_ADDRESSES = EncryptedColumn(
    "bitcoin_addresses", "address_ciphertext", "bitcoin_addresses.address", "user_address"
)
# Keyed by the address's own lookup hash (hex): the row has no other natural key.
BALANCE_BITCOIN_ADDRESSES = EncryptedColumn(
    "bitcoin_address_balances",
    "address_ciphertext",
    "bitcoin_address_balances.address",
    "encode(address_lookup, 'hex')",
)
ENCRYPTED = (
    DISPUTE_DESCRIPTIONS,
    OPERATION_BITCOIN_ADDRESSES,
    WATCHED_BITCOIN_ADDRESSES,
    BALANCE_BITCOIN_ADDRESSES,
)
