"""The oracle's side of the world, read by health itself: its sealed `/users` and its journal
`/operations` with the oracle's key (read-only), never through the oracle-logger.

Users and burns the oracle knows go into health's own tables (beside the chain's), where the
digest triggers fold them into the world's digests; the journal is the operations' world. What
one cycle read is kept as a snapshot (its size is the oracle's answer, fetched whole anyway).
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from dataclasses import dataclass, field

import asyncpg
from reservesync import digests, ledger, oracle_source
from reservesync.digests import Digest, Item
from reservesync.messages import OracleOperation, OracleUserState

from health_monitor.config import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OracleSnapshot:
    users: int
    operations_source: int
    """Σ over users of max(the oracle's own counter, its journal's operations of the user)."""
    journal: int
    digests: dict[int, Digest]
    items: dict[int, list[Item]]
    synced_sats: int
    burns: int
    burned_sats: int
    verified_addresses: int
    monitored_addresses: int
    users_named: frozenset[str] = field(default_factory=frozenset)


class OracleWorld:
    def __init__(self, settings: Settings, pool: asyncpg.Pool) -> None:
        self.settings = settings
        self.pool = pool
        self.snapshot: OracleSnapshot | None = None
        self.error: str | None = None
        self._applied: str | None = None

    @property
    def configured(self) -> bool:
        return self.settings.oracle_configured

    async def cycle(self) -> OracleSnapshot | None:
        users_url, operations_url, key = (
            self.settings.oracle_users_url,
            self.settings.oracle_operations_url,
            self.settings.oracle_key,
        )
        if users_url is None or operations_url is None or key is None:
            return None
        try:
            states, journal = await oracle_source.fetch_oracle(
                users_url, operations_url, key, self.settings.health_oracle_timeout_s
            )
        except Exception as exc:  # unreachable, tampered, malformed: said, not fatal
            self.error = f"{type(exc).__name__}: {exc}"
            log.warning("oracle not read", extra={"error": self.error})
            return self.snapshot
        self.error = None
        await self._apply(states, journal)
        self.snapshot = _snapshot(states, journal)
        return self.snapshot

    async def _apply(self, states: list[OracleUserState], journal: list[OracleOperation]) -> None:
        users = {s.user_address for s in states} | {o.user_address for o in journal}
        burns: dict[str, tuple[str, int, int | None]] = {}
        for state in states:
            for burn in state.emergency_burns:
                key = ledger.oracle_burn_key(state.user_address, burn)
                burns[key] = (state.user_address, burn.burned_sats, burn.block_number)
        for op in journal:
            reported = ledger.reported_burn(op)
            if reported is not None:
                key = ledger.oracle_burn_key(op.user_address, reported)
                burns.setdefault(key, (op.user_address, reported.burned_sats, op.block_number))
        fingerprint = hashlib.sha256(repr((sorted(users), sorted(burns.items()))).encode())
        if fingerprint.hexdigest() == self._applied:
            return  # nothing changed since the last cycle: no write
        async with self.pool.acquire() as connection, connection.transaction():
            await connection.executemany(
                "INSERT INTO health_world_users AS u (address, in_oracle) VALUES ($1, true) "
                "ON CONFLICT (address) DO UPDATE SET in_oracle = true WHERE NOT u.in_oracle",
                [(u,) for u in sorted(users)],
            )
            await connection.execute(
                "UPDATE health_world_users SET in_oracle = false "
                "WHERE in_oracle AND NOT (address = ANY($1::text[]))",
                sorted(users),
            )
            await connection.executemany(
                "INSERT INTO health_world_burns AS b "
                "(burn_key, user_address, burned_sats, block_number, in_oracle) "
                "VALUES ($1, $2, $3, $4, true) ON CONFLICT (burn_key) DO UPDATE "
                "SET in_oracle = true, burned_sats = CASE WHEN b.on_chain THEN b.burned_sats "
                "ELSE excluded.burned_sats END "
                "WHERE NOT b.in_oracle "
                "OR (NOT b.on_chain AND b.burned_sats <> excluded.burned_sats)",
                [(k, u, s, b) for k, (u, s, b) in sorted(burns.items())],
            )
            await connection.execute(
                "UPDATE health_world_burns SET in_oracle = false "
                "WHERE in_oracle AND NOT (burn_key = ANY($1::text[]))",
                sorted(burns),
            )
            await connection.execute(
                "DELETE FROM health_world_users WHERE NOT on_chain AND NOT in_oracle"
            )
            await connection.execute(
                "DELETE FROM health_world_burns WHERE NOT on_chain AND NOT in_oracle"
            )
        self._applied = fingerprint.hexdigest()


def _snapshot(states: list[OracleUserState], journal: list[OracleOperation]) -> OracleSnapshot:
    by_bucket: dict[int, Digest] = {}
    items: dict[int, list[Item]] = {}
    per_user: Counter[str] = Counter()
    seen: set[str] = set()
    for op in journal:
        if op.operation_id in seen:
            continue
        seen.add(op.operation_id)
        per_user[op.user_address] += 1
        item = digests.operation_item(op)
        by_bucket.setdefault(item.bucket, Digest()).add(item.hash)
        items.setdefault(item.bucket, []).append(item)
    performed = {s.user_address: s.operations_performed for s in states}
    source = sum(
        max(performed.get(u, 0), per_user.get(u, 0)) for u in set(performed) | set(per_user)
    )
    burns = [b for s in states for b in s.emergency_burns]
    addresses = [a for s in states for a in s.bitcoin_addresses]
    return OracleSnapshot(
        users=len(states),
        operations_source=source,
        journal=len(seen),
        digests=by_bucket,
        items=items,
        synced_sats=sum(s.last_synced_sats for s in states),
        burns=len(burns),
        burned_sats=sum(b.burned_sats for b in burns),
        verified_addresses=sum(a.verified_at is not None for a in addresses),
        monitored_addresses=sum(a.monitoring for a in addresses),
        users_named=frozenset(per_user),
    )
