"""The Merkle sum tree of the proof of reserves: one leaf per holder, committing to both sides
of their reserves at one EVM block B and one Bitcoin height H — what they hold of the token
(the liabilities) and the BTC on their verified Bitcoin addresses (the assets) — so a holder,
or anyone, can check that both are counted in the published totals.

Definition of the scheme `sha256-merkle-sum-v3` (what a verifier recomputes; `||` is
concatenation, B and H are 8-byte and amounts 16-byte big-endian unsigned integers, SHA-256
throughout):

- leaves: every user and every other holder of rBTC or wrBTC; the wrap vault's own rBTC
  counts 0 (it is the backing of the wrBTC outstanding, which its holders' leaves count)
- leaf hash  = SHA-256(0x00 || address (20 bytes) || B || H || rbtc_sats || wrbtc_sats
                       || synced_sats || btc_sats)
  rbtc_sats / wrbtc_sats: `balanceOf` of RBTCSynth / VaultWrBTC at B; synced_sats: the
  OracleAggregator's `lastSyncedSats` at B; btc_sats: the confirmed sats at height H of the
  holder's verified Bitcoin addresses (an address claimed by several users counts for the
  one who verified it first)
- entry      = hash (32 bytes) || liabilities (16 bytes) || assets (16 bytes); a leaf's
  liabilities are rbtc_sats + wrbtc_sats, its assets btc_sats
- parent     = SHA-256(0x01 || left entry || right entry), its sums the sums of its children
- leaves are ordered by address ascending (bytewise, the same as lowercase hex); the last node
  of a level with an odd count moves up unchanged (never duplicated: duplication would let two
  different leaf lists share a root)
- the root entry commits to the root hash and to both totals: the rBTC supply (every holder's
  rBTC + every wrBTC, which the vault's rBTC backs 1:1) and the BTC held; no leaves:
  SHA-256 of nothing, 0, 0

The 0x00/0x01 prefixes keep a leaf from ever passing for an inner node (RFC 6962's rule).
This module is the scheme's one definition: the API builds the tree with it and the verifier
(`reservesync.verify_reserves`) checks against it.
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

SCHEME = "sha256-merkle-sum-v3"
ADDRESS_BYTES = 20
HEIGHT_BYTES = 8
AMOUNT_BYTES = 16
HASH_BYTES = 32
ENTRY_BYTES = HASH_BYTES + 2 * AMOUNT_BYTES
RECORD_BYTES = ADDRESS_BYTES + 4 * 8
"""One input record: address, then rBTC, wrBTC, synced and BTC sats as 8 big-endian bytes
each (Postgres `int8send`)."""
_LEAF = b"\x00"
_NODE = b"\x01"
EMPTY_ROOT = hashlib.sha256(b"").digest()


@dataclass(frozen=True)
class ProofStep:
    side: Literal["left", "right"]
    """Where the sibling stands: "left" means parent = H(0x01 || sibling || current)."""
    hash: bytes
    liabilities: int
    assets: int

    def entry(self) -> bytes:
        return self.hash + _sums(self.liabilities, self.assets)


@dataclass(frozen=True)
class Holding:
    """What a leaf commits to: the tokens held, the synced balance and the BTC held."""

    rbtc_sats: int
    wrbtc_sats: int
    synced_sats: int
    btc_sats: int

    @property
    def liability(self) -> int:
        return self.rbtc_sats + self.wrbtc_sats

    def to_bytes(self) -> bytes:
        return b"".join(
            amount.to_bytes(AMOUNT_BYTES, "big")
            for amount in (self.rbtc_sats, self.wrbtc_sats, self.synced_sats, self.btc_sats)
        )


@dataclass(frozen=True)
class Point:
    """The instant on both chains the leaves describe."""

    evm_block: int
    btc_height: int

    def to_bytes(self) -> bytes:
        return self.evm_block.to_bytes(HEIGHT_BYTES, "big") + self.btc_height.to_bytes(
            HEIGHT_BYTES, "big"
        )


def _sums(liabilities: int, assets: int) -> bytes:
    return liabilities.to_bytes(AMOUNT_BYTES, "big") + assets.to_bytes(AMOUNT_BYTES, "big")


def sums_of(entry: bytes) -> tuple[int, int]:
    """An entry's liabilities and assets."""
    middle = HASH_BYTES + AMOUNT_BYTES
    return int.from_bytes(entry[HASH_BYTES:middle], "big"), int.from_bytes(
        entry[middle:ENTRY_BYTES], "big"
    )


def leaf_entry(address: bytes, point: Point, holding: Holding) -> bytes:
    digest = hashlib.sha256(_LEAF + address + point.to_bytes() + holding.to_bytes()).digest()
    return digest + _sums(holding.liability, holding.btc_sats)


def holding_of(record: bytes) -> Holding:
    """The amounts of one input record (after its address)."""
    rbtc, wrbtc, synced, btc = (
        int.from_bytes(record[i : i + 8], "big") for i in range(ADDRESS_BYTES, RECORD_BYTES, 8)
    )
    return Holding(rbtc, wrbtc, synced, btc)


def record_of(address: bytes, holding: Holding) -> bytes:
    """The input record of one leaf (the inverse of `holding_of`)."""
    return address + b"".join(
        amount.to_bytes(8, "big")
        for amount in (holding.rbtc_sats, holding.wrbtc_sats, holding.synced_sats, holding.btc_sats)
    )


def parent_entry(left: bytes, right: bytes) -> bytes:
    left_owed, left_held = sums_of(left)
    right_owed, right_held = sums_of(right)
    digest = hashlib.sha256(_NODE + left + right).digest()
    return digest + _sums(left_owed + right_owed, left_held + right_held)


class _Addresses(Sequence[bytes]):
    """The sorted address blob seen as a sequence, so `bisect` can search it in place."""

    def __init__(self, blob: bytes) -> None:
        self._blob = blob

    def __len__(self) -> int:
        return len(self._blob) // ADDRESS_BYTES

    def __getitem__(self, index: int) -> bytes:  # type: ignore[override]
        return self._blob[index * ADDRESS_BYTES : (index + 1) * ADDRESS_BYTES]


@dataclass(frozen=True)
class MerkleSumTree:
    point: Point
    addresses: bytes
    """Every leaf's address, sorted, 20 bytes each."""
    records: bytes
    """Every leaf's input record, in the same order (`RECORD_BYTES` each)."""
    levels: tuple[bytes, ...]
    """Entries per level, leaves first, root last; `ENTRY_BYTES` each."""

    @property
    def leaf_count(self) -> int:
        return len(self.addresses) // ADDRESS_BYTES

    @property
    def root(self) -> bytes:
        return self.levels[-1][:HASH_BYTES] if self.leaf_count else EMPTY_ROOT

    @property
    def total(self) -> int:
        """The root's liabilities: the rBTC supply the leaves count."""
        return sums_of(self.levels[-1])[0] if self.leaf_count else 0

    @property
    def total_assets(self) -> int:
        """The root's assets: the BTC the leaves hold."""
        return sums_of(self.levels[-1])[1] if self.leaf_count else 0

    def index_of(self, address: bytes) -> int | None:
        found = _Addresses(self.addresses)
        index = bisect.bisect_left(found, address)
        return index if index < len(found) and found[index] == address else None

    def entry(self, level: int, index: int) -> bytes:
        return self.levels[level][index * ENTRY_BYTES : (index + 1) * ENTRY_BYTES]

    def balance(self, index: int) -> int:
        """The leaf's liabilities: the tokens the holder holds."""
        return sums_of(self.entry(0, index))[0]

    def holding(self, index: int) -> Holding:
        return holding_of(self.records[index * RECORD_BYTES : (index + 1) * RECORD_BYTES])

    def proof(self, index: int) -> list[ProofStep]:
        """The siblings from the leaf up to (not including) the root."""
        steps = []
        for level in self.levels[:-1]:
            count = len(level) // ENTRY_BYTES
            sibling = index ^ 1
            if sibling < count:  # the odd last node has no sibling: it moves up as it is
                entry = level[sibling * ENTRY_BYTES : (sibling + 1) * ENTRY_BYTES]
                steps.append(
                    ProofStep(
                        "left" if sibling < index else "right", entry[:HASH_BYTES], *sums_of(entry)
                    )
                )
            index //= 2
        return steps


def to_hex(value: bytes) -> str:
    """A hash as the API shows it (and `proof_of_reserves` stores it): `0x` + lowercase hex."""
    return "0x" + value.hex()


def build(records: bytes, point: Point) -> MerkleSumTree:
    """The tree of `RECORD_BYTES` records (address, amounts), in any order; addresses unique.

    A module-level function of bytes in and a tree of bytes out, so it can run in another
    process and cross the boundary as a few large buffers.
    """
    if len(records) % RECORD_BYTES:
        raise ValueError(f"records must be {RECORD_BYTES} bytes each")
    ordered = sorted(records[i : i + RECORD_BYTES] for i in range(0, len(records), RECORD_BYTES))
    addresses = [record[:ADDRESS_BYTES] for record in ordered]
    if any(a == b for a, b in itertools.pairwise(addresses)):
        raise ValueError("an address appears twice")
    level = b"".join(
        leaf_entry(record[:ADDRESS_BYTES], point, holding_of(record)) for record in ordered
    )
    levels = [level]
    while len(level) > ENTRY_BYTES:
        count = len(level) // ENTRY_BYTES
        parents = [
            parent_entry(
                level[i * ENTRY_BYTES : (i + 1) * ENTRY_BYTES],
                level[(i + 1) * ENTRY_BYTES : (i + 2) * ENTRY_BYTES],
            )
            for i in range(0, count - 1, 2)
        ]
        if count % 2:
            parents.append(level[(count - 1) * ENTRY_BYTES :])
        level = b"".join(parents)
        levels.append(level)
    return MerkleSumTree(point, b"".join(addresses), b"".join(ordered), tuple(levels))


def fold(address: bytes, point: Point, holding: Holding, steps: Sequence[ProofStep]) -> bytes:
    """The root entry this leaf and these siblings lead to."""
    entry = leaf_entry(address, point, holding)
    for step in steps:
        sibling = step.entry()
        entry = (
            parent_entry(sibling, entry) if step.side == "left" else parent_entry(entry, sibling)
        )
    return entry


def verify(
    address: bytes,
    point: Point,
    holding: Holding,
    steps: Sequence[ProofStep],
    *,
    root: bytes,
    totals: tuple[int, int],
) -> bool:
    """Does this leaf, with these siblings, lead to the published root and totals
    (liabilities, assets)?"""
    return fold(address, point, holding, steps) == root + _sums(*totals)
