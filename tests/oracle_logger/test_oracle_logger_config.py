"""The oracle-logger refuses configurations that would make its security decorative."""

from __future__ import annotations

import pytest
from oracle_logger.config import Settings
from pydantic import ValidationError


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
