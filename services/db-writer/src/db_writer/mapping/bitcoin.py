"""`bitcoin.address_balance/v1` → rows (see the table in `db_writer.mapping`)."""

from __future__ import annotations

from reservesync.crypto import FieldCipher, normalise_bitcoin_address
from reservesync.encrypted_fields import BALANCE_BITCOIN_ADDRESSES
from reservesync.messages import BitcoinAddressBalance

from db_writer.mapping.oracle import BITCOIN_ADDRESS_LOOKUP
from db_writer.mapping.rows import Rows, Source


def address_lookup(address: str, cipher: FieldCipher) -> bytes:
    """The keyed hash `bitcoin_addresses.address_lookup` holds for the same address."""
    return cipher.lookup_hash(normalise_bitcoin_address(address), purpose=BITCOIN_ADDRESS_LOOKUP)


def balance_rows(balance: BitcoinAddressBalance, source: Source, cipher: FieldCipher) -> Rows:
    rows = Rows()
    lookup = address_lookup(balance.address, cipher)
    ciphertext = cipher.encrypt(
        balance.address, context=BALANCE_BITCOIN_ADDRESSES.context(lookup.hex())
    )
    rows.add(
        "bitcoin_address_balances",
        {
            "address_lookup": lookup,
            "address_ciphertext": ciphertext,
            "key_id": cipher.key_id_of(ciphertext),
            "network": balance.network.value,
            "confirmed_sats": balance.confirmed_sats,
            "height": balance.height,
            "block_hash": balance.block_hash,
            "as_of": balance.as_of,
            **source.columns(),
        },
    )
    return rows
