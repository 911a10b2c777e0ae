"""Field encryption: confidentiality, integrity bound to the row, rotation, keyed lookups."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
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
    assert first[4:16] != second[4:16]  # the nonces themselves differ
    assert ADDRESS.encode() not in first
    assert fields.decrypt(first, context=CONTEXT) == ADDRESS
    assert fields.decrypt(second, context=CONTEXT) == ADDRESS
    assert fields.key_id_of(first) == "k1"
    assert fields.decrypt(fields.encrypt("", context=CONTEXT), context=CONTEXT) == ""
    text = "dispute: «wrong amount» ✓"
    assert fields.decrypt(fields.encrypt(text, context="d:1"), context="d:1") == text


def test_blob_layout_is_what_the_module_documents() -> None:
    # Checked against cryptography directly, so another implementation could read the column.
    blob = cipher().encrypt(ADDRESS, context=CONTEXT)
    assert blob[0] == 1
    assert blob[1] == 2
    assert blob[2:4] == b"k1"
    assert len(blob) == 4 + 12 + len(ADDRESS) + 16
    nonce, sealed = blob[4:16], blob[16:]
    opened = AESGCM(bytes.fromhex(K1)).decrypt(nonce, sealed, CONTEXT.encode())
    assert opened == ADDRESS.encode()
    made_elsewhere = (
        bytes([1, 2])
        + b"k1"
        + b"\x07" * 12
        + AESGCM(bytes.fromhex(K1)).encrypt(b"\x07" * 12, b"hello", b"ctx")
    )
    assert cipher().decrypt(made_elsewhere, context="ctx") == "hello"


def test_a_ciphertext_only_opens_in_its_own_row() -> None:
    fields = cipher()
    blob = fields.encrypt(ADDRESS, context=CONTEXT)
    with pytest.raises(DecryptionError, match="authentication failed"):
        fields.decrypt(blob, context="bitcoin_addresses.address:0xdef")
    with pytest.raises(DecryptionError, match="authentication failed"):
        fields.decrypt(blob, context="disputes.description:0xabc")


@pytest.mark.parametrize(
    ("position", "message"),
    [
        (0, "known version"),
        (6, "authentication failed"),  # nonce
        (20, "authentication failed"),  # ciphertext
        (-1, "authentication failed"),  # tag
    ],
)
def test_tampering_is_detected(position: int, message: str) -> None:
    fields = cipher()
    blob = bytearray(fields.encrypt(ADDRESS, context=CONTEXT))
    blob[position] ^= 0x01
    with pytest.raises(DecryptionError, match=message):
        fields.decrypt(bytes(blob), context=CONTEXT)


def test_a_tampered_key_id_is_refused() -> None:
    blob = bytearray(cipher().encrypt(ADDRESS, context=CONTEXT))
    blob[3] = ord("9")  # "k1" -> "k9"
    with pytest.raises(DecryptionError, match="no key 'k9'"):
        cipher().decrypt(bytes(blob), context=CONTEXT)
    blob[3] = 0xFF
    with pytest.raises(DecryptionError, match="malformed key id"):
        cipher().decrypt(bytes(blob), context=CONTEXT)


@pytest.mark.parametrize("length", [0, 1, 10, 4 + 12 + 15])
def test_truncated_blob_is_refused(length: int) -> None:
    blob = cipher().encrypt(ADDRESS, context=CONTEXT)[:length]
    with pytest.raises(DecryptionError, match=r"truncated|known version"):
        cipher().decrypt(blob, context=CONTEXT)
    with pytest.raises(DecryptionError):
        FieldCipher.key_id_of(blob)


def test_unknown_key_id_names_the_key() -> None:
    blob = cipher(K0, "other").encrypt(ADDRESS, context=CONTEXT)
    assert FieldCipher.key_id_of(blob) == "other"
    with pytest.raises(DecryptionError, match="no key 'other' configured"):
        cipher().decrypt(blob, context=CONTEXT)


def test_decryption_error_is_a_value_error() -> None:
    assert issubclass(DecryptionError, ValueError)


def test_rotation_keeps_old_values_readable_until_reencrypted() -> None:
    old = cipher(K0, "k0").encrypt(ADDRESS, context=CONTEXT)
    assert FieldCipher.key_id_of(old) == "k0"
    rotated = cipher(K1, "k1", previous={"k0": K0})
    assert rotated.decrypt(old, context=CONTEXT) == ADDRESS
    assert rotated.key_id_of(rotated.encrypt(ADDRESS, context=CONTEXT)) == "k1"
    moved = rotated.reencrypt(old, context=CONTEXT)
    assert rotated.key_id_of(moved) == "k1"
    assert rotated.decrypt(moved, context=CONTEXT) == ADDRESS
    retired = cipher(K1, "k1")
    with pytest.raises(DecryptionError, match="no key 'k0'"):
        retired.decrypt(old, context=CONTEXT)
    assert retired.decrypt(moved, context=CONTEXT) == ADDRESS


def test_reencrypt_keeps_the_row_binding() -> None:
    fields = cipher(K1, "k1", previous={"k0": K0})
    old = cipher(K0, "k0").encrypt(ADDRESS, context=CONTEXT)
    with pytest.raises(DecryptionError, match="authentication failed"):
        fields.reencrypt(old, context="bitcoin_addresses.address:0xdef")


def test_lookup_hash_is_hmac_sha256_over_purpose_and_value() -> None:
    expected = hmac.new(
        bytes.fromhex(LOOKUP), b"btc\x00" + ADDRESS.encode(), hashlib.sha256
    ).digest()
    assert cipher().lookup_hash(ADDRESS, purpose="btc") == expected


def test_lookup_hashes_are_keyed_deterministic_and_case_blind_for_bech32() -> None:
    fields = cipher()
    upper = normalise_bitcoin_address(ADDRESS.upper())
    assert upper == ADDRESS
    assert fields.lookup_hash(upper, purpose="btc") == fields.lookup_hash(ADDRESS, purpose="btc")
    assert len(fields.lookup_hash(ADDRESS, purpose="btc")) == 32
    assert fields.lookup_hash(ADDRESS, purpose="btc") != fields.lookup_hash(ADDRESS, purpose="x")
    assert fields.lookup_hash(ADDRESS, purpose="btc") != cipher(lookup="33" * 32).lookup_hash(
        ADDRESS, purpose="btc"
    )
    with pytest.raises(ValueError, match="NUL"):
        fields.lookup_hash(ADDRESS, purpose="b\x00tc")


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        (
            " BC1QAR0SRRR7XFKVY5L643LYDNW9RE59GTZZWF5MDQ \n",
            "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq",
        ),
        (
            "TB1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KXPJZSX",
            "tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx",
        ),
        ("BCRT1QABC", "bcrt1qabc"),
        # Base58 is case-sensitive: normalising must not fold it.
        (" 1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2 ", "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2"),
        ("3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy", "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy"),
    ],
)
def test_bitcoin_address_normalisation(raw: str, normal: str) -> None:
    assert normalise_bitcoin_address(raw) == normal


def test_an_explicit_lookup_key_survives_rotation() -> None:
    before = cipher(K0, "k0").lookup_hash(ADDRESS, purpose="btc")
    after = cipher(K1, "k1", previous={"k0": K0}).lookup_hash(ADDRESS, purpose="btc")
    assert before == after


def test_a_derived_lookup_key_is_hkdf_of_the_key_and_changes_on_rotation() -> None:
    # Documented behaviour: without FIELD_LOOKUP_KEY, rotating the key moves every hash.
    derived = HKDF(hashes.SHA256(), 32, salt=None, info=b"reservesync lookup v1").derive(
        bytes.fromhex(K0)
    )
    expected = hmac.new(derived, b"btc\x00" + ADDRESS.encode(), hashlib.sha256).digest()
    assert cipher(K0, "k0", lookup=None).lookup_hash(ADDRESS, purpose="btc") == expected
    rotated = cipher(K1, "k1", previous={"k0": K0}, lookup=None)
    assert rotated.lookup_hash(ADDRESS, purpose="btc") != expected
    assert derived != bytes.fromhex(K0)


@pytest.mark.parametrize("key", ["abc", "zz" * 32, "00" * 31, "00" * 33])
def test_keys_must_be_32_bytes_of_hex(key: str) -> None:
    with pytest.raises(ValidationError, match="64 hex characters") as info:
        EncryptionSettings(field_encryption_key=SecretStr(key))
    assert key not in str(info.value)  # a malformed secret is still a secret
    with pytest.raises(ValidationError, match="64 hex characters"):
        EncryptionSettings(field_encryption_key=SecretStr(K1), field_lookup_key=SecretStr(key))
    with pytest.raises(ValidationError, match="64 hex characters"):
        EncryptionSettings(
            field_encryption_key=SecretStr(K1),
            field_encryption_previous_keys={"k0": SecretStr(key)},
        )


@pytest.mark.parametrize("key_id", ["", "k 1", "ключ", "x" * 17])
def test_key_ids_are_short_ascii(key_id: str) -> None:
    with pytest.raises(ValidationError):
        EncryptionSettings(field_encryption_key=SecretStr(K1), field_encryption_key_id=key_id)
    with pytest.raises(ValidationError, match="key id"):
        EncryptionSettings(
            field_encryption_key=SecretStr(K1),
            field_encryption_previous_keys={key_id: SecretStr(K0)},
        )


def test_one_id_cannot_name_two_keys() -> None:
    with pytest.raises(ValidationError, match="names both"):
        EncryptionSettings(
            field_encryption_key=SecretStr(K1),
            field_encryption_key_id="k1",
            field_encryption_previous_keys={"k1": SecretStr(K0)},
        )


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FIELD_ENCRYPTION_KEY", K1)
    monkeypatch.setenv("FIELD_ENCRYPTION_KEY_ID", "k1")
    monkeypatch.setenv("FIELD_ENCRYPTION_PREVIOUS_KEYS", f'{{"k0": "{K0}"}}')
    monkeypatch.setenv("FIELD_LOOKUP_KEY", LOOKUP)
    settings = EncryptionSettings()  # the key comes from the env
    assert settings.field_encryption_key_id == "k1"
    assert settings.field_encryption_previous_keys["k0"].get_secret_value() == K0
    assert K1 not in repr(settings)
    old = cipher(K0, "k0").encrypt(ADDRESS, context=CONTEXT)
    assert FieldCipher.from_settings(settings).decrypt(old, context=CONTEXT) == ADDRESS


def test_defaults_and_a_missing_key(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = EncryptionSettings(field_encryption_key=SecretStr(K1))
    assert settings.field_encryption_key_id == "k1"
    assert settings.field_encryption_previous_keys == {}
    assert settings.field_lookup_key is None
    # No default key: a service must not silently encrypt under a well-known one.
    monkeypatch.delenv("FIELD_ENCRYPTION_KEY", raising=False)
    with pytest.raises(ValidationError, match="field_encryption_key"):
        EncryptionSettings()


def test_the_constructor_checks_its_keys() -> None:
    key = bytes.fromhex(K1)
    with pytest.raises(ValueError, match="not among the keys"):
        FieldCipher("k2", {"k1": key}, key)
    with pytest.raises(ValueError, match="32 bytes"):
        FieldCipher("k1", {"k1": key[:16]}, key)
    with pytest.raises(ValueError, match="lookup key"):
        FieldCipher("k1", {"k1": key}, key[:16])
    with pytest.raises(ValueError, match="key id"):
        FieldCipher("k 1", {"k 1": key}, key)
