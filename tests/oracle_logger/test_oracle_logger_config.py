"""The oracle-logger refuses configurations that would make its security decorative."""

from __future__ import annotations

import pytest
from oracle_logger.config import Settings
from oracle_logger.scopes import OracleScope
from pydantic import ValidationError
from reservesync.messages import OracleAction


@pytest.mark.parametrize(
    ("environment", "complaint"),
    [
        ({"ORACLE_TOKENS": '{"oracle-1": "short"}'}, "at least 16 characters"),
        ({"ORACLE_HMAC_KEYS": '{"oracle 1": "a-long-enough-secret"}'}, "printable ASCII"),
        ({"ORACLE_USERS_URL": "http://127.0.0.1:1/users"}, "must be set together"),
        ({"ORACLE_STATE_KEY": "ab" * 32}, "must be set together"),
        (
            {"ORACLE_USERS_URL": "http://127.0.0.1:1/users", "ORACLE_STATE_KEY": "zz" * 32},
            "64 hex characters",
        ),
    ],
    ids=["short token", "bad oracle id", "url without key", "key without url", "bad key"],
)
def test_bad_configuration_is_refused_at_startup(
    monkeypatch: pytest.MonkeyPatch, environment: dict[str, str], complaint: str
) -> None:
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError) as refused:
        Settings()
    assert complaint in str(refused.value)
    for value in environment.values():
        if "secret" in value or value == "short":
            assert value not in str(refused.value), "a secret was echoed in the error"


def test_credentials_come_from_json_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORACLE_TOKENS", '{"oracle-1": "0123456789abcdef0123"}')
    monkeypatch.setenv("ORACLE_HMAC_KEYS", '{"oracle-2": "fedcba9876543210fedc"}')
    settings = Settings()
    assert settings.oracle_tokens["oracle-1"].get_secret_value() == "0123456789abcdef0123"
    assert settings.oracle_hmac_keys["oracle-2"].get_secret_value() == "fedcba9876543210fedc"
    assert "0123456789abcdef0123" not in repr(settings)


def test_scopes_come_from_json_and_default_to_the_narrowest(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(
        "ORACLE_TOKENS",
        '{"oracle-1": "0123456789abcdef0123", "oracle-2": "fedcba9876543210fedc", '
        '"oracle-3": "00112233445566778899"}',
    )
    monkeypatch.setenv(
        "ORACLE_SCOPES",
        '{"oracle-1": {"actions": ["*"], "user_state": true}, '
        '"oracle-2": {"actions": ["SYNC", "MINT"]}}',
    )
    settings = Settings()
    assert settings.scope_of("oracle-1").actions == frozenset(OracleAction)
    assert settings.scope_of("oracle-1").user_state
    assert settings.scope_of("oracle-2").actions == {OracleAction.SYNC, OracleAction.MINT}
    assert not settings.scope_of("oracle-2").user_state
    assert settings.scope_of("oracle-3") == OracleScope.default()
    assert settings.scope_of("oracle-3").actions == {OracleAction.BALANCE_CHECK}
    assert not settings.scope_of("oracle-3").user_state


@pytest.mark.parametrize(
    ("scopes", "complaint"),
    [
        ('{"oracle-9": {"actions": ["SYNC"]}}', "no ORACLE_TOKENS or ORACLE_HMAC_KEYS"),
        ('{"oracle-1": {"actions": ["STEAL"]}}', "actions"),
        ('{"oracle-1": {"actions": ["SYNC"], "admin": true}}', "admin"),
    ],
    ids=["unknown oracle", "unknown action", "unknown key"],
)
def test_bad_scopes_are_refused_at_startup(
    monkeypatch: pytest.MonkeyPatch, scopes: str, complaint: str
) -> None:
    monkeypatch.setenv("ORACLE_TOKENS", '{"oracle-1": "0123456789abcdef0123"}')
    monkeypatch.setenv("ORACLE_SCOPES", scopes)
    with pytest.raises(ValidationError) as refused:
        Settings()
    assert complaint in str(refused.value)
