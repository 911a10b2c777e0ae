"""Settings pieces the services compose into their own `Settings`.

Each piece reads the environment names of SPEC section 2 (`KAFKA_BOOTSTRAP_SERVERS`,
`DATABASE_URL`, `CHAIN_RPC_URL`, `CHAIN_ID`), so compose, Kubernetes and the local stack's
`.stack/env` configure every service the same way.
"""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore", frozen=True)

    log_level: str = "INFO"
    metrics_port: int = Field(0, ge=0, le=65535, description="0 disables the metrics server")
    metrics_host: str = "127.0.0.1"


class KafkaSettings(ServiceSettings):
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    kafka_client_id: str = "reservesync"
    kafka_replication_factor: int = Field(1, ge=1, description="3 in production clusters")


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


def _hex_key(value: SecretStr) -> SecretStr:
    raw = value.get_secret_value()
    if len(raw) != 64 or any(c not in "0123456789abcdefABCDEF" for c in raw):
        raise ValueError("must be 64 hex characters (32 bytes)")
    return value


class EncryptionSettings(ServiceSettings):
    """Keys for the sensitive fields (Bitcoin addresses, dispute descriptions)."""

    field_encryption_key: SecretStr = Field(description="64 hex chars: the current AES-256 key")
    field_encryption_key_id: str = Field("k1", pattern=r"^[A-Za-z0-9_-]{1,16}$")
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
        return {key_id: _hex_key(key) for key_id, key in value.items()}
