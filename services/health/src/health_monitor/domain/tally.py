"""The source side of the score: what the producers published, counted from their topics.

Fed every committed record of the chain-event, oracle and registry topics in order, it keeps
in memory only what the counts need: transaction-bearing events per type, the users and the
emergency burns every source names (one entry per identity, with a bit per source), the
oracle's own operation counters beside the operations it published, and, for the recent
blocks a reorg may still orphan, what each block added, so a `chain.reorg/v1` takes it back
exactly as the db-writer takes back its rows.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import datetime

from reservesync import ledger
from reservesync.contracts import SystemContract
from reservesync.messages import (
    ChainEvent,
    ChainReorg,
    OracleOperation,
    OracleUserState,
    RegisteredContract,
)

from health_monitor.domain.idset import IdSet

# Which source names a user or a burn (bits of one mask, so the union is one dict).
CHAIN, ORACLE_STATE, ORACLE_OPERATION = 1, 2, 4
ORACLE = ORACLE_STATE | ORACLE_OPERATION


@dataclass
class BlockTally:
    """What one recent block of one partition added, to be taken back if it is orphaned."""

    number: int
    event_ids: list[str] = field(default_factory=list)
    tx_types: Counter[str] = field(default_factory=Counter)
    burn_keys: list[str] = field(default_factory=list)
    first_users: list[str] = field(default_factory=list)
    """Users the chain named first in this block (of this partition)."""


@dataclass(frozen=True)
class OracleView:
    """The part of one user's newest oracle state the counts use."""

    as_of: datetime
    burn_keys: tuple[str, ...]
    operations_performed: int
    synced_sats: int
    verified_addresses: int
    monitored_addresses: int


@dataclass
class Burn:
    sources: int
    sats: int


class SourceTally:
    def __init__(self, reorg_window_blocks: int = 1024, max_tracked_blocks: int = 100_000) -> None:
        self.reorg_window_blocks = reorg_window_blocks
        self.max_tracked_blocks = max_tracked_blocks
        self.event_ids = IdSet()
        self.transactions_by_type: Counter[str] = Counter()
        self.users: dict[str, int] = {}
        self.burns: dict[str, Burn] = {}
        self.oracle: dict[str, OracleView] = {}
        self.operation_ids = IdSet()
        self.published_operations: Counter[str] = Counter()
        self.operations = 0
        """Σ over users of max(operations the oracle says it performed, distinct published)."""
        self.registry: dict[SystemContract, RegisteredContract] = {}
        self._blocks: dict[tuple[int, str], BlockTally] = {}
        self._block_order: deque[tuple[int, str]] = deque()
        self._highest_block = 0

    # -- chain events --------------------------------------------------------------------
    def chain_event(self, partition: int, event: ChainEvent) -> None:
        if not self.event_ids.add(event.event_id):
            return  # a second copy (another listener, a republish): the database keeps one
        block = self._recent_block(partition, event)
        moved = ledger.movement(event)
        if moved is not None:
            self.transactions_by_type[moved.tx_type] += 1
        user = ledger.event_user(event)
        first_on_chain = user is not None and not self.users.get(user, 0) & CHAIN
        if user is not None:
            self.users[user] = self.users.get(user, 0) | CHAIN
        burn = ledger.chain_burn_key(event)
        if burn is not None:
            self._add_burn(burn, CHAIN, event.arg_int("burnedAmount"))
        if block is not None:
            block.event_ids.append(event.event_id)
            if moved is not None:
                block.tx_types[moved.tx_type] += 1
            if burn is not None:
                block.burn_keys.append(burn)
            if first_on_chain and user is not None:
                block.first_users.append(user)

    def reorg(self, partition: int, notice: ChainReorg) -> None:
        """Take back what this partition's orphaned blocks added (the notice comes on every
        partition, so each partition's share goes with its own copy)."""
        for block_hash in notice.orphaned_block_hashes:
            block = self._blocks.pop((partition, block_hash), None)
            if block is None:
                continue
            for event_id in block.event_ids:
                self.event_ids.discard(event_id)
            self.transactions_by_type.subtract(block.tx_types)
            for key in block.burn_keys:
                self._drop_burn_source(key, CHAIN)
            # Every later block naming them is orphaned too (a reorg orphans a suffix of the
            # chain), so the chain no longer knows them, as the database's evidence says.
            for user in block.first_users:
                self._drop_user_source(user, CHAIN)

    @property
    def transactions(self) -> int:
        return sum(self.transactions_by_type.values())

    def _recent_block(self, partition: int, event: ChainEvent) -> BlockTally | None:
        self._highest_block = max(self._highest_block, event.block_number)
        oldest = self._highest_block - self.reorg_window_blocks
        if event.block_number < oldest:
            return None  # final: no reorg will take it back
        key = (partition, event.block_hash)
        block = self._blocks.get(key)
        if block is None:
            block = self._blocks[key] = BlockTally(event.block_number)
            self._block_order.append(key)
            self._forget_final_blocks(oldest)
        return block

    def _forget_final_blocks(self, oldest: int) -> None:
        while self._block_order:
            key = self._block_order[0]
            block = self._blocks.get(key)
            if (
                block is not None
                and block.number >= oldest
                and len(self._block_order) <= self.max_tracked_blocks
            ):
                return
            self._block_order.popleft()
            self._blocks.pop(key, None)

    # -- oracle ----------------------------------------------------------------------------
    def oracle_state(self, state: OracleUserState) -> None:
        user = state.user_address
        current = self.oracle.get(user)
        if current is not None and state.as_of < current.as_of:
            return  # the database keeps the newest `as_of` too
        before = self._operations_of(user)
        keys = []
        for burn in state.emergency_burns:
            key = ledger.oracle_burn_key(user, burn)
            keys.append(key)
            self._add_burn(key, ORACLE_STATE, burn.burned_sats)
        self._forget_oracle_view(user, keep=set(keys))
        self.oracle[user] = OracleView(
            as_of=state.as_of,
            burn_keys=tuple(keys),
            operations_performed=state.operations_performed,
            synced_sats=state.last_synced_sats,
            verified_addresses=sum(a.verified_at is not None for a in state.bitcoin_addresses),
            monitored_addresses=sum(a.monitoring for a in state.bitcoin_addresses),
        )
        self.operations += self._operations_of(user) - before
        self.users[user] = self.users.get(user, 0) | ORACLE_STATE

    def oracle_gone(self, user: str) -> None:
        """A tombstone: the oracle no longer tracks the user."""
        if user not in self.oracle:
            return
        before = self._operations_of(user)
        self._forget_oracle_view(user, keep=set())
        del self.oracle[user]
        self.operations += self._operations_of(user) - before
        self._drop_user_source(user, ORACLE_STATE)

    def operation(self, op: OracleOperation) -> None:
        if not self.operation_ids.add(op.operation_id):
            return
        user = op.user_address
        before = self._operations_of(user)
        self.published_operations[user] += 1
        self.operations += self._operations_of(user) - before
        self.users[user] = self.users.get(user, 0) | ORACLE_OPERATION
        burn = ledger.reported_burn(op)
        if burn is not None:
            self._add_burn(ledger.oracle_burn_key(user, burn), ORACLE_OPERATION, burn.burned_sats)

    def _operations_of(self, user: str) -> int:
        view = self.oracle.get(user)
        performed = view.operations_performed if view is not None else 0
        return max(performed, self.published_operations[user])

    def _forget_oracle_view(self, user: str, keep: set[str]) -> None:
        current = self.oracle.get(user)
        if current is None:
            return
        for key in current.burn_keys:
            if key not in keep:
                self._drop_burn_source(key, ORACLE_STATE)

    # -- registry ---------------------------------------------------------------------------
    def registered(self, record: RegisteredContract) -> None:
        current = self.registry.get(record.name)
        if current is None or record.observed_at >= current.observed_at:
            self.registry[record.name] = record

    # -- burns and users ----------------------------------------------------------------------
    def _add_burn(self, key: str, source: int, sats: int) -> None:
        burn = self.burns.get(key)
        if burn is None:
            self.burns[key] = Burn(source, sats)
            return
        burn.sources |= source
        if source == CHAIN:
            burn.sats = sats  # the chain's amount wins, as in the database

    def _drop_burn_source(self, key: str, source: int) -> None:
        burn = self.burns.get(key)
        if burn is None:
            return
        burn.sources &= ~source
        if not burn.sources:
            del self.burns[key]

    def _drop_user_source(self, user: str, source: int) -> None:
        sources = self.users.get(user, 0) & ~source
        if sources:
            self.users[user] = sources
        else:
            self.users.pop(user, None)

    # -- what the report reads ------------------------------------------------------------------
    @property
    def oracle_burns(self) -> int:
        return sum(1 for burn in self.burns.values() if burn.sources & ORACLE)

    @property
    def burned_sats(self) -> int:
        return sum(burn.sats for burn in self.burns.values())

    @property
    def synced_sats(self) -> int:
        return sum(view.synced_sats for view in self.oracle.values())

    @property
    def bitcoin_addresses(self) -> tuple[int, int]:
        """(verified, monitored) over the oracle's users."""
        views = self.oracle.values()
        return (
            sum(v.verified_addresses for v in views),
            sum(v.monitored_addresses for v in views),
        )
