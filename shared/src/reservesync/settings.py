"""Settings pieces the services compose into their own `Settings`.

Each piece reads the environment names of SPEC section 2 (`KAFKA_BOOTSTRAP_SERVERS`,
`DATABASE_URL`, `CHAIN_RPC_URL`, `CHAIN_ID`), so compose, Kubernetes and the local stack's
`.stack/env` configure every service the same way.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


def _names(value: object) -> object:
    if not isinstance(value, str):
        return value
    text = value.strip()
    if text.startswith("["):
        return json.loads(text)
    return [item.strip() for item in text.split(",") if item.strip()]


NameList = Annotated[list[str], NoDecode, BeforeValidator(_names)]
"""A list from the environment as `a,b,c` or as a JSON list."""


EXAMPLE_MARKER = "change-me"
"""Every password and token of .env.example (and the Kubernetes example secrets) holds it."""
EXAMPLE_KEYS = frozenset({"deadbeef" * 8, "feedface" * 8})
"""The example 64-hex keys of .env.example."""


def _secrets_of(value: object) -> list[str]:
    if isinstance(value, SecretStr):
        return [value.get_secret_value()]
    if isinstance(value, dict):
        return [secret for item in value.values() for secret in _secrets_of(item)]
    return []


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore", frozen=True)

    @model_validator(mode="after")
    def _no_example_secrets(self) -> ServiceSettings:
        # A deployment copied from .env.example and never edited must not start: its keys are
        # public. Named without the value, which may be one character off a real secret.
        for name in type(self).model_fields:
            for secret in _secrets_of(getattr(self, name)):
                if EXAMPLE_MARKER in secret or secret.lower() in EXAMPLE_KEYS:
                    raise ValueError(
                        f"{name.upper()} holds an example value of .env.example; "
                        "set a secret of your own"
                    )
        return self

    log_level: str = "INFO"
    metrics_port: int = Field(0, ge=0, le=65535, description="0 disables the metrics server")
    metrics_host: str = "127.0.0.1"
    liveness_max_silence_s: float = Field(
        120.0, gt=0, description="a worker whose loop is silent this long answers /healthz 503"
    )
    pulse_log_interval_s: float = Field(
        60.0, ge=0, description="a worker logs its heartbeat line this often (0: never)"
    )


class KafkaSettings(ServiceSettings):
    """Where the brokers are and who this client is (docs/architecture.md, "Kafka principals").

    Each service authenticates as its own principal (`KAFKA_SASL_USERNAME`, e.g.
    `db-writer`) whose ACLs allow only what that service does; `SASL_SSL` with
    `KAFKA_SSL_CAFILE` in production, `SASL_PLAINTEXT` on loopback in the local stack.
    """

    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    kafka_client_id: str = "reservesync"
    kafka_replication_factor: int = Field(1, ge=1, description="3 in production clusters")
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT", description="SASL_SSL in production, SASL_PLAINTEXT on loopback"
    )
    kafka_sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"] = "SCRAM-SHA-512"
    kafka_sasl_username: str | None = Field(None, description="the service's Kafka principal")
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_cafile: Path | None = Field(
        None, description="CA bundle the brokers' certificates are checked against (SSL, SASL_SSL)"
    )

    @model_validator(mode="after")
    def _credentials_match_protocol(self) -> KafkaSettings:
        sasl = self.kafka_security_protocol.startswith("SASL_")
        if sasl and (not self.kafka_sasl_username or self.kafka_sasl_password is None):
            raise ValueError(
                f"KAFKA_SECURITY_PROTOCOL={self.kafka_security_protocol} needs "
                "KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD"
            )
        if not sasl and self.kafka_sasl_username:
            # Credentials that would silently not be sent are a misconfiguration.
            raise ValueError(
                f"KAFKA_SASL_USERNAME is set but KAFKA_SECURITY_PROTOCOL is "
                f"{self.kafka_security_protocol} (use SASL_SSL or SASL_PLAINTEXT)"
            )
        if self.kafka_ssl_cafile is not None and not self.kafka_ssl_cafile.is_file():
            raise ValueError(f"KAFKA_SSL_CAFILE {self.kafka_ssl_cafile} is not a readable file")
        return self


class DatabaseSettings(ServiceSettings):
    database_url: SecretStr = SecretStr("postgresql://reservesync@127.0.0.1:5432/reservesync")
    database_pool_size: int = Field(5, ge=1, le=100)

    @property
    def asyncpg_dsn(self) -> str:
        """The URL for asyncpg itself (which does not know SQLAlchemy's `+driver` suffix)."""
        return self.database_url.get_secret_value().replace(
            "postgresql+asyncpg://", "postgresql://"
        )

    @property
    def sqlalchemy_url(self) -> str:
        return self.asyncpg_dsn.replace("postgresql://", "postgresql+asyncpg://", 1)


class ChainSettings(ServiceSettings):
    chain_rpc_url: str = "http://127.0.0.1:8545"
    chain_id: int = Field(31337, gt=0)


class HttpSettings(ServiceSettings):
    http_host: str = "127.0.0.1"
    http_port: int = Field(8080, ge=1, le=65535)
    http_body_timeout_s: float = Field(
        10.0, gt=0, le=600, description="a request body must have arrived this long after it began"
    )


_KEY_ID_PATTERN = r"^[A-Za-z0-9_-]{1,16}$"


def _hex_key(value: SecretStr) -> SecretStr:
    raw = value.get_secret_value()
    if len(raw) != 64 or any(c not in "0123456789abcdefABCDEF" for c in raw):
        # The message never echoes the value: it is a secret even when malformed.
        raise ValueError("must be 64 hex characters (32 bytes)")
    return value


class EncryptionSettings(ServiceSettings):
    """Keys for the sensitive fields (Bitcoin addresses, dispute descriptions), SPEC section 5.

    Environment: `FIELD_ENCRYPTION_KEY` (64 hex), `FIELD_ENCRYPTION_KEY_ID` (written into every
    ciphertext, so rotation needs no flag day), `FIELD_ENCRYPTION_PREVIOUS_KEYS` (JSON such as
    `{"k0": "<64 hex>"}`: retired keys that still decrypt until every row is re-encrypted) and
    `FIELD_LOOKUP_KEY` (64 hex, for the keyed lookup hashes).

    When `FIELD_LOOKUP_KEY` is absent the lookup key is derived from the current encryption key
    (HKDF-SHA256), which is convenient locally but means rotating the encryption key changes
    every lookup hash and breaks lookups of existing rows. Production sets it explicitly.
    """

    field_encryption_key: SecretStr = Field(description="64 hex chars: the current AES-256 key")
    field_encryption_key_id: str = Field("k1", pattern=_KEY_ID_PATTERN)
    field_encryption_previous_keys: dict[str, SecretStr] = Field(
        default_factory=dict, description="JSON {key id: hex key}: old keys that still decrypt"
    )
    field_lookup_key: SecretStr | None = Field(
        None,
        description="64 hex chars for the keyed lookup hashes; set it in production so that "
        "rotating the encryption key leaves lookups intact (default: derived from the key)",
    )

    @field_validator("field_encryption_key", "field_lookup_key")
    @classmethod
    def _one_key(cls, value: SecretStr | None) -> SecretStr | None:
        return None if value is None else _hex_key(value)

    @field_validator("field_encryption_previous_keys")
    @classmethod
    def _old_keys(cls, value: dict[str, SecretStr]) -> dict[str, SecretStr]:
        # Key ids go into every ciphertext as short ASCII, so old ids obey the same rule.
        for key_id in value:
            if re.fullmatch(_KEY_ID_PATTERN, key_id) is None:
                raise ValueError(f"key id {key_id!r} must be 1-16 of [A-Za-z0-9_-]")
        return {key_id: _hex_key(key) for key_id, key in value.items()}

    @model_validator(mode="after")
    def _current_id_is_unambiguous(self) -> EncryptionSettings:
        # One id naming two different keys would make some ciphertexts undecryptable.
        previous = self.field_encryption_previous_keys.get(self.field_encryption_key_id)
        current = self.field_encryption_key.get_secret_value().lower()
        if previous is not None and previous.get_secret_value().lower() != current:
            raise ValueError(
                f"key id {self.field_encryption_key_id!r} names both the current key "
                "and a different previous key"
            )
        return self
