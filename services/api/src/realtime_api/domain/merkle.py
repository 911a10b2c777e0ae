"""The Merkle sum tree of the proof of reserves: one leaf per holder, committing to what each
holds of the token (the liabilities) and to the balance the oracle synced for them, so a
holder can check that their tokens are counted in the published total.

Definition of the scheme `sha256-merkle-sum-v2` (what a holder recomputes; `||` is
concatenation, amounts are 16-byte big-endian unsigned integers, SHA-256 throughout):

- leaves: every user and every other holder of rBTC or wrBTC; the wrap vault's own rBTC
  counts 0 (it is the backing of the wrBTC outstanding, which its holders' leaves count)
- leaf hash  = SHA-256(0x00 || address (20 bytes) || rbtc_sats || wrbtc_sats || synced_sats)
- entry      = hash (32 bytes) || sum (16 bytes); a leaf's sum is rbtc_sats + wrbtc_sats
- parent     = SHA-256(0x01 || left entry || right entry), its sum = left sum + right sum
- leaves are ordered by address ascending (bytewise, the same as lowercase hex); the last node
  of a level with an odd count moves up unchanged (never duplicated: duplication would let two
  different leaf lists share a root)
- the root entry commits to the root hash and to the total (the rBTC supply: every holder's
  rBTC + every wrBTC, which the vault's rBTC backs 1:1); no leaves: SHA-256 of nothing, 0

The 0x00/0x01 prefixes keep a leaf from ever passing for an inner node (RFC 6962's rule).
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

ADDRESS_BYTES = 20
AMOUNT_BYTES = 16
HASH_BYTES = 32
ENTRY_BYTES = HASH_BYTES + AMOUNT_BYTES
RECORD_BYTES = ADDRESS_BYTES + 3 * 8
"""One input record: address, then rBTC, wrBTC and synced sats as 8 big-endian bytes each
(Postgres `int8send`)."""
_LEAF = b"\x00"
_NODE = b"\x01"
EMPTY_ROOT = hashlib.sha256(b"").digest()


@dataclass(frozen=True)
class ProofStep:
    side: Literal["left", "right"]
    """Where the sibling stands: "left" means parent = H(0x01 || sibling || current)."""
    hash: bytes
    sum: int


@dataclass(frozen=True)
class Holding:
    """What a leaf commits to: the tokens held (the leaf's sum) and the synced balance."""

    rbtc_sats: int
    wrbtc_sats: int
    synced_sats: int

    @property
    def liability(self) -> int:
        return self.rbtc_sats + self.wrbtc_sats

    def to_bytes(self) -> bytes:
        return b"".join(
            amount.to_bytes(AMOUNT_BYTES, "big")
            for amount in (self.rbtc_sats, self.wrbtc_sats, self.synced_sats)
        )


def leaf_entry(address: bytes, holding: Holding) -> bytes:
    digest = hashlib.sha256(_LEAF + address + holding.to_bytes()).digest()
    return digest + holding.liability.to_bytes(AMOUNT_BYTES, "big")


def holding_of(record: bytes) -> Holding:
    """The amounts of one input record (after its address)."""
    rbtc, wrbtc, synced = (
        int.from_bytes(record[i : i + 8], "big") for i in range(ADDRESS_BYTES, RECORD_BYTES, 8)
    )
    return Holding(rbtc, wrbtc, synced)


def parent_entry(left: bytes, right: bytes) -> bytes:
    total = int.from_bytes(left[HASH_BYTES:], "big") + int.from_bytes(right[HASH_BYTES:], "big")
    return hashlib.sha256(_NODE + left + right).digest() + total.to_bytes(AMOUNT_BYTES, "big")


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
    addresses: bytes
    """Every leaf's address, sorted, 20 bytes each."""
    records: bytes
    """Every leaf's input record, in the same order (`RECORD_BYTES` each)."""
    levels: tuple[bytes, ...]
    """Entries per level, leaves first, root last; 48 bytes each."""

    @property
    def leaf_count(self) -> int:
        return len(self.addresses) // ADDRESS_BYTES

    @property
    def root(self) -> bytes:
        return self.levels[-1][:HASH_BYTES] if self.leaf_count else EMPTY_ROOT

    @property
    def total(self) -> int:
        return int.from_bytes(self.levels[-1][HASH_BYTES:ENTRY_BYTES], "big")

    def index_of(self, address: bytes) -> int | None:
        found = _Addresses(self.addresses)
        index = bisect.bisect_left(found, address)
        return index if index < len(found) and found[index] == address else None

    def entry(self, level: int, index: int) -> bytes:
        return self.levels[level][index * ENTRY_BYTES : (index + 1) * ENTRY_BYTES]

    def balance(self, index: int) -> int:
        """The leaf's sum: the tokens the holder holds."""
        return int.from_bytes(self.entry(0, index)[HASH_BYTES:], "big")

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
                        "left" if sibling < index else "right",
                        entry[:HASH_BYTES],
                        int.from_bytes(entry[HASH_BYTES:], "big"),
                    )
                )
            index //= 2
        return steps


def to_hex(value: bytes) -> str:
    """A hash as the API shows it (and `proof_of_reserves` stores it): `0x` + lowercase hex."""
    return "0x" + value.hex()


def build(records: bytes) -> MerkleSumTree:
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
    level = b"".join(leaf_entry(record[:ADDRESS_BYTES], holding_of(record)) for record in ordered)
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
    return MerkleSumTree(b"".join(addresses), b"".join(ordered), tuple(levels))


def verify(
    address: bytes, holding: Holding, steps: Sequence[ProofStep], root: bytes, total: int
) -> bool:
    """What a holder runs: does this leaf, with these siblings, lead to the published root?"""
    entry = leaf_entry(address, holding)
    for step in steps:
        sibling = step.hash + step.sum.to_bytes(AMOUNT_BYTES, "big")
        entry = (
            parent_entry(sibling, entry) if step.side == "left" else parent_entry(entry, sibling)
        )
    return entry == root + total.to_bytes(AMOUNT_BYTES, "big")
