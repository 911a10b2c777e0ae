"""GET /proof-of-reserves and /proof-of-reserves/proof: the token's supply (the liabilities)
against the BTC the oracle reports, the supply no synced balance backs as a named deficit, and
the Merkle sum tree that lets each holder check their tokens are counted.

Both read the reserves snapshot (see `storage.snapshot`); `as_of` and `age_s` say how old it
is. The tree's definition is in `domain.merkle` and in this operation's description.
"""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter

from realtime_api import errors, schemas
from realtime_api.deps import AddressDep, ReservesDep
from realtime_api.domain import merkle
from realtime_api.domain.freshness import age_s
from realtime_api.domain.liabilities import UNBACKED_EXPLANATION, UNBACKED_SUPPLY

router = APIRouter(tags=["proof of reserves"])
SCHEME = "sha256-merkle-sum-v2"


@router.get(
    "/proof-of-reserves",
    responses=errors.responses(400, 429, 503),
    description=merkle.__doc__,
)
async def get_proof_of_reserves(snapshot: ReservesDep) -> schemas.ProofOfReserves:
    tree, owed = snapshot.tree, snapshot.liabilities
    rbtc = owed.rbtc_supply
    btc = snapshot.oracle_sats
    unbacked = owed.unbacked_supply
    deficits = [
        schemas.Deficit(name=UNBACKED_SUPPLY, sats=unbacked, explanation=UNBACKED_EXPLANATION)
    ]
    return schemas.ProofOfReserves(
        total_rbtc_sats=rbtc,
        wrbtc_outstanding_sats=owed.wrbtc_outstanding,
        synced_sats=owed.synced_sats,
        unbacked_supply_sats=unbacked,
        deficits=[d for d in deficits if d.sats > 0],
        total_btc_sats=btc,
        backing_ratio=round(btc / rbtc, 6) if rbtc else None,
        fully_backed=btc >= rbtc and unbacked == 0,
        users=tree.leaf_count,
        oracle_users=snapshot.oracle_users,
        merkle=schemas.MerkleCommitment(
            scheme=SCHEME,
            root=merkle.to_hex(tree.root),
            total_sats=tree.total,
            leaves=tree.leaf_count,
        ),
        attestation_id=snapshot.attestation_id,
        as_of=snapshot.as_of,
        age_s=age_s(snapshot.as_of, datetime.now(UTC)) or 0.0,
    )


@router.get("/proof-of-reserves/proof", responses=errors.responses(400, 404, 429, 503))
async def get_reserves_proof(address: AddressDep, snapshot: ReservesDep) -> schemas.ReservesProof:
    """The holder's leaf and its path to the root: recompute the leaf from your address and
    amounts (rBTC, wrBTC, synced sats), fold the path in (`side` says where each sibling
    stands) and compare with `root` and `total_sats` of /proof-of-reserves at the same
    `as_of`."""
    tree = snapshot.tree
    index = tree.index_of(bytes.fromhex(address[2:]))
    if index is None:
        raise errors.ApiError(
            404, "unknown_address", f"{address} is not a leaf of the snapshot of {snapshot.as_of}"
        )
    holding = tree.holding(index)
    return schemas.ReservesProof(
        address=address,
        balance_sats=tree.balance(index),
        rbtc_sats=holding.rbtc_sats,
        wrbtc_sats=holding.wrbtc_sats,
        synced_sats=holding.synced_sats,
        leaf_index=index,
        leaf_hash=merkle.to_hex(tree.entry(0, index)[: merkle.HASH_BYTES]),
        path=[
            schemas.ProofStep(side=step.side, hash=merkle.to_hex(step.hash), sum_sats=step.sum)
            for step in tree.proof(index)
        ],
        root=merkle.to_hex(tree.root),
        total_sats=tree.total,
        as_of=snapshot.as_of,
        age_s=age_s(snapshot.as_of, datetime.now(UTC)) or 0.0,
    )
