"""Realtime API settings (environment names are the field names in capitals).

`DATABASE_URL` is the reader role `rs_api`; `FIELD_ENCRYPTION_KEY` (and the other encryption
settings) let it decrypt a user's own Bitcoin addresses for them after an owner proof.
"""

from __future__ import annotations

from ipaddress import IPv4Network, IPv6Network

from pydantic import Field
from reservesync.settings import DatabaseSettings, EncryptionSettings, HttpSettings


class Settings(DatabaseSettings, HttpSettings, EncryptionSettings):
    database_pool_size: int = Field(10, ge=1, le=100)
    api_statement_timeout_ms: int = Field(
        3000, ge=100, le=60_000, description="longest a query may run before the API gives up"
    )
    api_pool_timeout_s: float = Field(
        2.0, gt=0, le=30, description="longest a request waits for a free database connection"
    )

    api_rate_limit_per_s: float = Field(
        50.0, ge=0, description="sustained requests per second per client; 0 disables"
    )
    api_rate_limit_burst: int = Field(100, ge=1, description="requests a client may burst")
    api_rate_limit_clients: int = Field(
        100_000, ge=100, description="clients remembered at once (least recently seen go)"
    )
    api_trusted_proxies: tuple[IPv4Network | IPv6Network, ...] = Field(
        default=(),
        description="JSON list of proxy addresses or networks (CIDR, e.g. an ingress's pod "
        "range) whose X-Forwarded-For names the client; from anyone else the header is "
        "ignored (a client could name anyone)",
    )

    api_snapshot_check_interval_s: float = Field(
        2.0, gt=0, description="how often the aggregates' change detector runs"
    )
    api_aggregates_min_interval_s: float = Field(
        2.0,
        ge=0,
        description="shortest time between two rebuilds of the burn, dispute and "
        "pool totals while data keeps changing",
    )
    api_reserves_min_interval_s: float = Field(
        60.0,
        ge=0,
        description="shortest time between two rebuilds of the reserves Merkle tree while "
        "data keeps changing (about a second of database time per 100k users)",
    )
    api_pending_mint_window_s: float = Field(
        3600.0,
        gt=0,
        description="an oracle MINT whose Synced is not in the database is a pending mint "
        "(shown beside the supply) for this long after it was logged",
    )
    api_snapshot_max_age_s: float = Field(
        300.0, gt=0, description="rebuild at least this often, even when nothing seems changed"
    )

    api_owner_challenge_ttl_s: float = Field(
        300.0, ge=10, le=3600, description="how long a signed owner challenge stays valid"
    )
    api_access_log: bool = Field(True, description="one structured log line per request")
