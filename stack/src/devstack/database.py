"""The application database and one login role per service (least privilege, SPEC section 5).

The roles and the database themselves come from `reservesync.db.roles` (shared with the
Kubernetes Job); this adds where the local stack keeps their URLs.
"""

from __future__ import annotations

from reservesync.db.roles import ROLES, create, provision

from devstack.postgres import DATABASE

__all__ = ["ENV_KEYS", "ROLES", "create", "provision", "url"]


# role -> the `.stack/env` key of its URL (`DATABASE_URL` is the migrator's: it owns the schema).
ENV_KEYS = {
    "rs_migrator": "DATABASE_URL",
    "rs_writer": "DB_WRITER_DATABASE_URL",
    "rs_health": "HEALTH_DATABASE_URL",
    "rs_api": "API_DATABASE_URL",
    "rs_oracle_logger": "ORACLE_LOGGER_DATABASE_URL",
}


def url(role: str, password: str, port: int, host: str = "127.0.0.1") -> str:
    return f"postgresql://{role}:{password}@{host}:{port}/{DATABASE}"
