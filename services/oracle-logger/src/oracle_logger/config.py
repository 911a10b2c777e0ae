"""oracle-logger settings (environment names are the field names in capitals).

Credentials are JSON objects keyed by oracle id, so adding an oracle is a configuration change:
`ORACLE_TOKENS='{"oracle-1": "<bearer token>"}'`, `ORACLE_HMAC_KEYS='{"oracle-1": "<key>"}'`.
An oracle may have either or both. With neither configured the service still starts (so a
stack can be probed) but refuses every write with 401, and says so in its log.

What each oracle may write is its scope (`ORACLE_SCOPES`, see `scopes`); `DATABASE_URL` (the
`rs_oracle_logger` role) holds the state the replicas share: accepted operation ids and used
signatures.
"""

from __future__ import annotations

import re

from pydantic import Field, SecretStr, field_validator, model_validator
from reservesync.settings import DatabaseSettings, HttpSettings, KafkaSettings, ServiceSettings

from oracle_logger.scopes import OracleScope

_ORACLE_ID = re.compile(r"^[\x21-\x7e]{1,200}$")  # the `Identifier` of the message contract
_MIN_SECRET_CHARS = 16


def _credentials(value: dict[str, SecretStr]) -> dict[str, SecretStr]:
    for oracle_id, secret in value.items():
        if _ORACLE_ID.fullmatch(oracle_id) is None:
            raise ValueError(f"oracle id {oracle_id!r} must be 1-200 printable ASCII characters")
        # A guessable secret would make the whole authentication decorative; the message never
        # echoes it.
        if len(secret.get_secret_value()) < _MIN_SECRET_CHARS:
            raise ValueError(f"the secret of {oracle_id!r} must have at least 16 characters")
    return value


class OracleKey(ServiceSettings):
    """The AES-256-GCM key of the oracle's sealed payloads (`/users`, `/operations`)."""

    oracle_state_key: SecretStr | None = Field(
        None, description="64 hex chars: the AES-256-GCM key of the /users payload"
    )

    @field_validator("oracle_state_key")
    @classmethod
    def _check_state_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and re.fullmatch(r"[0-9a-fA-F]{64}", value.get_secret_value()) is None:
            raise ValueError("must be 64 hex characters (32 bytes)")
        return value

    @property
    def state_key(self) -> bytes:
        if self.oracle_state_key is None:
            raise RuntimeError("ORACLE_STATE_KEY is not configured")
        return bytes.fromhex(self.oracle_state_key.get_secret_value())


class Settings(KafkaSettings, HttpSettings, DatabaseSettings, OracleKey):
    kafka_client_id: str = "oracle-logger"

    oracle_tokens: dict[str, SecretStr] = Field(
        default_factory=dict, description="JSON {oracle id: bearer token}"
    )
    oracle_hmac_keys: dict[str, SecretStr] = Field(
        default_factory=dict, description="JSON {oracle id: HMAC-SHA256 key}"
    )
    oracle_signature_max_skew_s: float = Field(
        300.0, gt=0, le=3600, description="how far X-Timestamp may be from our clock"
    )
    oracle_max_body_bytes: int = Field(1024 * 1024, ge=1024, le=16 * 1024 * 1024)
    oracle_max_batch_items: int = Field(500, ge=1, le=10_000)
    oracle_scopes: dict[str, OracleScope] = Field(
        default_factory=dict,
        description='JSON {oracle id: {"actions": [...], "user_state": bool}}; an oracle not '
        "named gets the default scope (BALANCE_CHECK only, no user state)",
    )
    oracle_idempotency_ttl_s: float = Field(
        365 * 24 * 3600.0,
        gt=0,
        description="how long an accepted operation id is remembered (as long as the log keeps it)",
    )
    oracle_prune_interval_s: float = Field(
        300.0, gt=0, description="how often expired signatures and operation ids are deleted"
    )
    oracle_publish_timeout_s: float = Field(
        30.0, gt=0, description="longest wait for Kafka's acknowledgement before answering 503"
    )

    # Pull mode: both set enables it.
    oracle_users_url: str | None = Field(None, description="the oracle's GET /users endpoint")
    oracle_pull_interval_s: float = Field(30.0, gt=0)
    oracle_pull_timeout_s: float = Field(10.0, gt=0)

    # Reconciliation inside the service (also `python -m oracle_logger.reconcile`, by hand or
    # as a scheduled job): off unless an interval is set.
    oracle_reconcile_interval_s: float = Field(
        0.0,
        ge=0,
        description="reconcile the database with the oracle's journal this often (0: never); "
        "needs ORACLE_USERS_URL, ORACLE_STATE_KEY, ORACLE_OPERATIONS_URL and "
        "RECONCILE_DATABASE_URL",
    )
    oracle_operations_url: str | None = Field(
        None, description="the oracle's GET /operations (its journal), for reconciliation"
    )
    reconcile_database_url: SecretStr | None = Field(
        None, description="a read-only role's URL (health's is enough), for reconciliation"
    )

    @field_validator("oracle_tokens", "oracle_hmac_keys")
    @classmethod
    def _check_credentials(cls, value: dict[str, SecretStr]) -> dict[str, SecretStr]:
        return _credentials(value)

    @model_validator(mode="after")
    def _scopes_name_known_oracles(self) -> Settings:
        # A misspelt id would leave the real oracle on the default scope without a word.
        unknown = sorted(set(self.oracle_scopes) - {*self.oracle_tokens, *self.oracle_hmac_keys})
        if unknown:
            raise ValueError(
                f"ORACLE_SCOPES names {unknown}, which have no ORACLE_TOKENS or ORACLE_HMAC_KEYS"
            )
        return self

    def scope_of(self, oracle_id: str) -> OracleScope:
        return self.oracle_scopes.get(oracle_id, OracleScope.default())

    @model_validator(mode="after")
    def _pull_mode_is_whole(self) -> Settings:
        # Half a pull configuration is a mistake, not a wish to stay in push mode.
        if (self.oracle_users_url is None) != (self.oracle_state_key is None):
            raise ValueError("ORACLE_USERS_URL and ORACLE_STATE_KEY must be set together")
        if self.oracle_reconcile_interval_s and None in (
            self.oracle_users_url,
            self.oracle_operations_url,
            self.reconcile_database_url,
        ):
            raise ValueError(
                "ORACLE_RECONCILE_INTERVAL_S needs ORACLE_USERS_URL, ORACLE_STATE_KEY, "
                "ORACLE_OPERATIONS_URL and RECONCILE_DATABASE_URL"
            )
        return self
