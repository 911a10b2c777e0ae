"""The chain's side of the world, read by health itself: the six contracts' logs from the
node's own `eth_getLogs`, block range after block range, folded into digests per block range
(transactions), and the users and emergency burns they name (health's own tables).

Incremental and resumable: a cursor (the next block and the hash of the last one read) is
committed in the same Postgres transaction as what its range added, so a restart goes on where
it stopped, and each cycle reads at most `HEALTH_CHAIN_BLOCKS_PER_CYCLE` blocks and, give or
take one call, `HEALTH_CHAIN_LOGS_PER_CYCLE` logs (a range that holds more is committed in
parts: the digests add up, and the comparison judges a partly read range by the rows below
the cursor). Canonical
blocks only: a block counts once the head has been past it for `HEALTH_CHAIN_GRACE_S` and
`CHAIN_CONFIRMATIONS` blocks; before each range the last block read must still have the hash
it had, else (a reorg) the world is rewound a digest range further back and read again.
Nothing per event stays in memory, and each eth_getLogs asks for about
`HEALTH_CHAIN_LOGS_PER_CALL` logs, whatever the chain's density.
"""

from __future__ import annotations

import logging
import time
from collections import Counter, deque
from dataclasses import dataclass

import asyncpg
from reservesync import digests, ledger
from reservesync.digests import Digest
from reservesync.event_decoding import EventDecoder, NodeLog, UnknownLog
from reservesync.log_ranges import RangeSizer
from reservesync.messages import ChainEvent

from health_monitor.config import Settings
from health_monitor.world.rpc import ChainReader

log = logging.getLogger(__name__)
REWIND_BLOCKS = 256
"""How far before the fork candidate a reorg rewinds (deeper reorgs rewind again)."""
TX_TYPE = "tx_type:"
INITIAL_RANGE_BLOCKS = 20
"""The first eth_getLogs range, before the chain's density of logs is known (the listener's)."""
RANGE_TARGET_S = 2.0
"""eth_getLogs ranges shrink when an answer takes far longer than this."""


@dataclass(frozen=True)
class ChainProgress:
    head: int
    next_block: int
    """The first block health has not read: every block before it is in the world's digests."""
    head_seen_at: float
    rewinds: int
    error: str | None = None


@dataclass(frozen=True)
class _Read:
    next_block: int
    """The first block not read: the cursor committed."""
    logs: int


@dataclass
class _Range:
    transactions: dict[int, Digest]
    tx_types: Counter[tuple[int, str]]
    users: dict[str, int]
    burns: dict[str, tuple[str, int, int]]


class ChainScanner:
    def __init__(self, settings: Settings, pool: asyncpg.Pool, reader: ChainReader) -> None:
        self.settings = settings
        self.pool = pool
        self.reader = reader
        self.decoder = EventDecoder(settings.chain_id, settings.chain_contracts)
        # Sized by logs, not blocks alone: a block range of a busy chain can hold millions of
        # logs, a response the node takes minutes and gigabytes to build and health to parse.
        self.sizer = RangeSizer(
            INITIAL_RANGE_BLOCKS,
            settings.health_chain_range_blocks,
            RANGE_TARGET_S,
            settings.health_chain_logs_per_call,
        )
        self._heads: deque[tuple[float, int]] = deque(maxlen=512)
        self.rewinds = 0
        self.progress: ChainProgress | None = None

    @property
    def configured(self) -> bool:
        return bool(self.settings.chain_contracts)

    async def cycle(self) -> ChainProgress:
        head = await self.reader.head()
        now = time.monotonic()
        if not self._heads or self._heads[-1][1] != head:
            self._heads.append((now, head))
        next_block, last_hash = await self._cursor()
        if last_hash is not None and next_block > 0:
            found = await self.reader.headers([next_block - 1])
            seen = found.get(next_block - 1)
            if seen is None or seen.hash != last_hash:
                next_block = await self._rewind(next_block)
        target = self._target(now)
        blocks_left = self.settings.health_chain_blocks_per_cycle
        logs_left = self.settings.health_chain_logs_per_cycle
        while next_block <= target and blocks_left > 0 and logs_left > 0:
            last = min(
                target,
                next_block + self.settings.health_chain_range_blocks - 1,
                (digests.block_bucket(next_block) + 1) * digests.RANGE_BLOCKS - 1,
            )
            read = await self._read_range(next_block, last, logs_left)
            if read is None:
                break  # the node changed under us: the next cycle checks the hash again
            blocks_left -= read.next_block - next_block
            logs_left -= read.logs
            next_block = read.next_block
        self.progress = ChainProgress(head, next_block, self._heads[-1][0], self.rewinds)
        return self.progress

    def _target(self, now: float) -> int:
        """The highest block the head passed at least the grace period ago, less confirmations."""
        settled = [h for at, h in self._heads if at <= now - self.settings.health_chain_grace_s]
        if not settled:
            return -1
        return max(settled) - self.settings.chain_confirmations

    async def _cursor(self) -> tuple[int, str | None]:
        row = await self.pool.fetchrow(
            "SELECT next_block, last_hash FROM health_chain_cursor WHERE chain_id = $1",
            self.settings.chain_id,
        )
        if row is None:
            return self.settings.chain_start_block, None
        return int(row["next_block"]), row["last_hash"]

    async def _read_range(self, first: int, last: int, logs_budget: int) -> _Read | None:
        """Folds the blocks `first`..`last` (one digest range at most) into the world, in
        eth_getLogs calls sized by the logs they return, and commits them with the cursor;
        stops after the call that reaches `logs_budget` logs. None when the node changed."""
        found = _Range({}, Counter(), {}, {})
        block, logs, last_hash = first, 0, None
        while block <= last and logs < logs_budget:
            end = min(last, block + self.sizer.size - 1)
            folded = await self._fold_logs(block, end, found)
            if folded is None:
                return None
            last_hash, count = folded
            logs += count
            block = end + 1
        assert last_hash is not None  # first <= last, and a budget left: one call at least
        await self._commit(found, block, last_hash)
        return _Read(block, logs)

    async def _fold_logs(self, first: int, last: int, found: _Range) -> tuple[str, int] | None:
        """One eth_getLogs call folded into `found`: the hash of block `last` and how many
        logs came, or None when the node's answers disagree (it changed under us)."""
        started = time.monotonic()
        logs = await self.reader.logs(first, last, self.decoder.addresses)
        self.sizer.succeeded(last - first + 1, time.monotonic() - started, len(logs))
        wanted = sorted({entry.block_number for entry in logs} | {last})
        headers = await self.reader.headers(wanted)
        if last not in headers or any(
            headers.get(e.block_number) is None or headers[e.block_number].hash != e.block_hash
            for e in logs
        ):
            return None
        for entry in logs:
            try:
                event = self.decoder.decode(entry, headers[entry.block_number].timestamp)
            except (UnknownLog, ValueError):
                continue  # not one of the protocol's events: the listener dead-letters it
            _fold(found, event)
        return headers[last].hash, len(logs)

    async def _commit(self, found: _Range, next_block: int, last_hash: str) -> None:
        rows = [("transactions", b, d.n, d.total) for b, d in sorted(found.transactions.items())]
        rows += [(f"{TX_TYPE}{t}", b, n, 0) for (b, t), n in sorted(found.tx_types.items())]
        async with self.pool.acquire() as connection, connection.transaction():
            if rows:
                await connection.executemany(
                    "INSERT INTO health_world_digests AS d (tbl, bucket, n, total) "
                    "VALUES ($1, $2, $3, $4) ON CONFLICT (tbl, bucket) DO UPDATE "
                    "SET n = d.n + excluded.n, total = d.total + excluded.total",
                    rows,
                )
            if found.users:
                await connection.executemany(
                    "INSERT INTO health_world_users AS u (address, on_chain, first_block) "
                    "VALUES ($1, true, $2) ON CONFLICT (address) DO UPDATE "
                    "SET on_chain = true, first_block = least(u.first_block, excluded.first_block) "
                    "WHERE NOT u.on_chain OR u.first_block > excluded.first_block",
                    sorted(found.users.items()),
                )
            if found.burns:
                await connection.executemany(
                    "INSERT INTO health_world_burns AS b "
                    "(burn_key, user_address, burned_sats, block_number, on_chain) "
                    "VALUES ($1, $2, $3, $4, true) ON CONFLICT (burn_key) DO UPDATE "
                    "SET on_chain = true, burned_sats = excluded.burned_sats, "
                    "block_number = excluded.block_number",
                    [(k, u, s, b) for k, (u, s, b) in sorted(found.burns.items())],
                )
            await connection.execute(
                "INSERT INTO health_chain_cursor (chain_id, next_block, last_hash) "
                "VALUES ($1, $2, $3) ON CONFLICT (chain_id) DO UPDATE "
                "SET next_block = excluded.next_block, last_hash = excluded.last_hash, "
                "updated_at = now()",
                self.settings.chain_id,
                next_block,
                last_hash,
            )

    async def _rewind(self, next_block: int) -> int:
        """A reorg replaced the last block read: take back what the blocks from a digest range
        before it added, and read them again."""
        start = max(self.settings.chain_start_block, next_block - 1 - REWIND_BLOCKS)
        bucket = digests.block_bucket(start)
        start = max(self.settings.chain_start_block, bucket * digests.RANGE_BLOCKS)
        async with self.pool.acquire() as connection, connection.transaction():
            await connection.execute(
                "DELETE FROM health_world_digests WHERE bucket >= $1 "
                "AND (tbl = 'transactions' OR tbl LIKE 'tx_type:%')",
                bucket,
            )
            await connection.execute(
                "UPDATE health_world_burns SET on_chain = false "
                "WHERE on_chain AND block_number >= $1",
                start,
            )
            await connection.execute(
                "DELETE FROM health_world_burns WHERE NOT on_chain AND NOT in_oracle"
            )
            await connection.execute(
                "UPDATE health_world_users SET on_chain = false, first_block = NULL "
                "WHERE on_chain AND first_block >= $1",
                start,
            )
            await connection.execute(
                "DELETE FROM health_world_users WHERE NOT on_chain AND NOT in_oracle"
            )
            await connection.execute(
                "UPDATE health_chain_cursor SET next_block = $2, last_hash = NULL, "
                "updated_at = now() WHERE chain_id = $1",
                self.settings.chain_id,
                start,
            )
        self.rewinds += 1
        log.warning("reorg: world rewound", extra={"from_block": start, "was": next_block})
        return start


def _fold(found: _Range, event: ChainEvent) -> None:
    """What one canonical event adds to the world, by the ledger's rules (the writer's)."""
    meant = ledger.meaning(event)
    if meant.movement is not None:
        item = digests.transaction_item(event, meant.movement)
        found.transactions.setdefault(item.bucket, Digest()).add(item.hash)
        found.tx_types[(item.bucket, meant.movement.tx_type)] += 1
    user = meant.user
    if user is not None and (user not in found.users or event.block_number < found.users[user]):
        found.users[user] = event.block_number
    key = meant.burn_key
    if key is not None:
        found.burns[key] = (
            str(event.args["user"]),
            event.arg_int("burnedAmount"),
            event.block_number,
        )


def world_events(
    decoder: EventDecoder, logs: list[NodeLog], timestamps: dict[int, int]
) -> list[ChainEvent]:
    """The protocol's events among `logs` (for the drill-down of a diverging range)."""
    events = []
    for entry in logs:
        try:
            events.append(decoder.decode(entry, timestamps[entry.block_number]))
        except (UnknownLog, ValueError):
            continue
    return events
