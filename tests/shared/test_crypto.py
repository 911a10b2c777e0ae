"""Field encryption: confidentiality, integrity bound to the row, rotation, keyed lookups."""

from __future__ import annotations

import pytest
from pydantic import SecretStr, ValidationError
from reservesync.crypto import DecryptionError, FieldCipher, normalise_bitcoin_address
from reservesync.settings import EncryptionSettings

K0, K1, LOOKUP = "00" * 32, "11" * 32, "22" * 32
ADDRESS = "bc1qxy2kgdygjrsqtzq2n0yrf2493p83kkfjhx0wlh"
CONTEXT = "bitcoin_addresses.address:0xabc"


def cipher(
    key: str = K1,
    key_id: str = "k1",
    previous: dict[str, str] | None = None,
    lookup: str | None = LOOKUP,
) -> FieldCipher:
    return FieldCipher.from_settings(
        EncryptionSettings(
            field_encryption_key=SecretStr(key),
            field_encryption_key_id=key_id,
            field_encryption_previous_keys={k: SecretStr(v) for k, v in (previous or {}).items()},
            field_lookup_key=SecretStr(lookup) if lookup else None,
        )
    )


def test_round_trip_with_fresh_nonces_and_no_plaintext_inside() -> None:
    fields = cipher()
    first, second = (
        fields.encrypt(ADDRESS, context=CONTEXT),
        fields.encrypt(ADDRESS, context=CONTEXT),
    )
    assert first != second
    assert ADDRESS.encode() not in first
    assert fields.decrypt(first, context=CONTEXT) == ADDRESS
    assert fields.key_id_of(first) == "k1"


def test_a_ciphertext_only_opens_in_its_own_row() -> None:
    fields = cipher()
    blob = fields.encrypt(ADDRESS, context=CONTEXT)
    with pytest.raises(DecryptionError, match="authentication failed"):
        fields.decrypt(blob, context="bitcoin_addresses.address:0xdef")


@pytest.mark.parametrize("position", [0, 1, 5, 20, -1])
def test_tampering_is_detected(position: int) -> None:
    fields = cipher()
    blob = bytearray(fields.encrypt(ADDRESS, context=CONTEXT))
    blob[position] ^= 0x01
    with pytest.raises(DecryptionError):
        fields.decrypt(bytes(blob), context=CONTEXT)


def test_truncated_blob_is_refused() -> None:
    blob = cipher().encrypt(ADDRESS, context=CONTEXT)
    with pytest.raises(DecryptionError, match="truncated"):
        cipher().decrypt(blob[:10], context=CONTEXT)


def test_rotation_keeps_old_values_readable_until_reencrypted() -> None:
    old = cipher(K0, "k0").encrypt(ADDRESS, context=CONTEXT)
    rotated = cipher(K1, "k1", previous={"k0": K0})
    assert rotated.decrypt(old, context=CONTEXT) == ADDRESS
    moved = rotated.reencrypt(old, context=CONTEXT)
    assert rotated.key_id_of(moved) == "k1"
    retired = cipher(K1, "k1")
    with pytest.raises(DecryptionError, match="no key 'k0'"):
        retired.decrypt(old, context=CONTEXT)
    assert retired.decrypt(moved, context=CONTEXT) == ADDRESS


def test_lookup_hashes_are_keyed_deterministic_and_case_blind_for_bech32() -> None:
    fields = cipher()
    upper = normalise_bitcoin_address(ADDRESS.upper())
    assert fields.lookup_hash(upper, purpose="btc") == fields.lookup_hash(ADDRESS, purpose="btc")
    assert len(fields.lookup_hash(ADDRESS, purpose="btc")) == 32
    assert fields.lookup_hash(ADDRESS, purpose="btc") != fields.lookup_hash(ADDRESS, purpose="x")
    assert fields.lookup_hash(ADDRESS, purpose="btc") != cipher(lookup="33" * 32).lookup_hash(
        ADDRESS, purpose="btc"
    )
    # Base58 is case-sensitive: normalising must not fold it.
    assert normalise_bitcoin_address(" 1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2 ") == (
        "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2"
    )


def test_an_explicit_lookup_key_survives_rotation() -> None:
    before = cipher(K0, "k0").lookup_hash(ADDRESS, purpose="btc")
    after = cipher(K1, "k1", previous={"k0": K0}).lookup_hash(ADDRESS, purpose="btc")
    assert before == after


@pytest.mark.parametrize("key", ["abc", "zz" * 32, "00" * 31])
def test_keys_must_be_32_bytes_of_hex(key: str) -> None:
    with pytest.raises(ValidationError, match="64 hex characters"):
        EncryptionSettings(field_encryption_key=SecretStr(key))
