"""What the oracle knows: its users, their Bitcoin addresses, what it did (the journal) and
the emergency burns it performed; rendered as `oracle.user_state/v1` and `oracle.operation/v1`.

Operation ids are derived from what the operation is (oracle, action, user, and the chain
transaction or the address), so reporting the journal again, from a restarted oracle or a
reconciliation, never makes a second operation.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime

from reservesync.messages import (
    KnownEmergencyBurn,
    Network,
    OperationStatus,
    OracleAction,
    OracleOperation,
    OracleUserState,
    WatchedBitcoinAddress,
)

from scenarios.oracle.bitcoin import SOURCE

SOURCES = [SOURCE]


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class OracleUser:
    address: str
    registered_at: datetime
    bitcoin_addresses: list[WatchedBitcoinAddress] = field(default_factory=list)
    last_synced_sats: int = 0
    last_sync_at: datetime | None = None
    burns: list[KnownEmergencyBurn] = field(default_factory=list)
    operations: int = 0
    changed_at: datetime = field(default_factory=_now)
    needs_topup: bool = False

    @property
    def monitored(self) -> list[str]:
        return [a.address for a in self.bitcoin_addresses if a.monitoring]


class OracleBook:
    def __init__(self, oracle_id: str) -> None:
        self.oracle_id = oracle_id
        self.users: dict[str, OracleUser] = {}
        self.journal: list[OracleOperation] = []

    def register(self, user: str) -> OracleOperation:
        user = user.lower()
        if user in self.users:
            raise ValueError(f"{user} is already registered")
        self.users[user] = OracleUser(user, registered_at=_now())
        return self.record(OracleAction.USER_REGISTERED, user, discriminator="registered")

    def verify_address(
        self, user: str, address: str, *, monitoring: bool, network: Network
    ) -> OracleOperation:
        member = self.users[user.lower()]
        member.bitcoin_addresses.append(
            WatchedBitcoinAddress(
                address=address, network=network, verified_at=_now(), monitoring=monitoring
            )
        )
        return self.record(
            OracleAction.BTC_ADDRESS_VERIFIED,
            member.address,
            bitcoin_address=address,
            # The id must not carry the address: ids are stored and logged in plaintext.
            discriminator=hashlib.sha256(address.encode()).hexdigest()[:16],
        )

    def record(
        self,
        action: OracleAction,
        user: str,
        *,
        discriminator: str,
        status: OperationStatus = OperationStatus.SUCCESS,
        **details: object,
    ) -> OracleOperation:
        member = self.users[user]
        identity = f"{self.oracle_id}|{action.value}|{user}|{discriminator}"
        digest = hashlib.sha256(identity.encode()).hexdigest()[:32]
        operation = OracleOperation.model_validate(
            {
                "operation_id": f"{self.oracle_id}-{digest}",
                "action": action,
                "user_address": user,
                "consensus_reached": True,
                "sources_used": SOURCES,
                "status": status,
                "occurred_at": _now(),
                "oracle_id": self.oracle_id,
                **details,
            }
        )
        self.journal.append(operation)
        member.operations += 1
        member.changed_at = operation.occurred_at
        return operation

    def states(self) -> list[OracleUserState]:
        return [
            OracleUserState(
                user_address=u.address,
                bitcoin_addresses=list(u.bitcoin_addresses),
                last_synced_sats=u.last_synced_sats,
                last_sync_at=u.last_sync_at,
                registered_at=u.registered_at,
                emergency_burns=list(u.burns),
                operations_performed=u.operations,
                as_of=u.changed_at,
            )
            for u in self.users.values()
        ]
