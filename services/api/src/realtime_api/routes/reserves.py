"""GET /proof-of-reserves and /proof-of-reserves/proof: the token's supply (the liabilities,
at EVM block B) against the BTC Bitcoin shows on the users' verified addresses (the assets, at
Bitcoin height H), the oracle's reported figure beside it, the mints the oracle logged that the
supply does not count yet (`reservesync.pending_mints`), the supply no synced balance and no
BTC backs as named deficits, and the Merkle sum tree that lets anyone check a leaf.

Both read the reserves snapshot (see `storage.snapshot`); `as_of` and `age_s` say how old it
is. The tree's definition is in `reservesync.merkle` and in this operation's description.
"""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter
from reservesync import merkle
from reservesync.http_errors import ApiError

from realtime_api import errors, schemas
from realtime_api.deps import AddressDep, ReservesDep
from realtime_api.domain.freshness import age_s
from realtime_api.domain.liabilities import (
    UNBACKED_BY_BTC,
    UNBACKED_BY_BTC_EXPLANATION,
    UNBACKED_EXPLANATION,
    UNBACKED_SUPPLY,
)

router = APIRouter(tags=["proof of reserves"])


@router.get(
    "/proof-of-reserves",
    responses=errors.responses(400, 429, 503),
    description=merkle.__doc__,
)
async def get_proof_of_reserves(snapshot: ReservesDep) -> schemas.ProofOfReserves:
    tree, owed = snapshot.tree, snapshot.liabilities
    rbtc = owed.rbtc_supply
    unbacked = owed.unbacked_supply
    ratio = owed.backing_ratio
    deficits = [
        schemas.Deficit(
            name=UNBACKED_BY_BTC, sats=owed.unbacked_by_btc, explanation=UNBACKED_BY_BTC_EXPLANATION
        ),
        schemas.Deficit(name=UNBACKED_SUPPLY, sats=unbacked, explanation=UNBACKED_EXPLANATION),
    ]
    return schemas.ProofOfReserves(
        total_rbtc_sats=rbtc,
        wrbtc_outstanding_sats=owed.wrbtc_outstanding,
        synced_sats=owed.synced_sats,
        unbacked_supply_sats=unbacked,
        deficits=[d for d in deficits if d.sats > 0],
        btc_held_sats=owed.btc_held,
        unbacked_by_btc_sats=owed.unbacked_by_btc,
        total_btc_sats=snapshot.oracle_sats,
        pending_mint_sats=snapshot.pending.sats,
        pending_mints=snapshot.pending.mints,
        secure_mint_ok=rbtc + snapshot.pending.sats <= owed.btc_held,
        evm_block=tree.point.evm_block,
        btc_height=tree.point.btc_height,
        backing_ratio=round(ratio, 6) if ratio is not None else None,
        status="critical" if ratio is not None and ratio < 1 else "ok",
        fully_backed=owed.unbacked_by_btc == 0 and unbacked == 0,
        users=tree.leaf_count,
        oracle_users=snapshot.oracle_users,
        merkle=schemas.MerkleCommitment(
            scheme=merkle.SCHEME,
            root=merkle.to_hex(tree.root),
            total_sats=tree.total,
            total_btc_sats=tree.total_assets,
            evm_block=tree.point.evm_block,
            btc_height=tree.point.btc_height,
            leaves=tree.leaf_count,
        ),
        attestation_id=snapshot.attestation_id,
        as_of=snapshot.as_of,
        age_s=age_s(snapshot.as_of, datetime.now(UTC)) or 0.0,
    )


@router.get("/proof-of-reserves/proof", responses=errors.responses(400, 404, 429, 503))
async def get_reserves_proof(address: AddressDep, snapshot: ReservesDep) -> schemas.ReservesProof:
    """The holder's leaf and its path to the root: recompute the leaf from your address, (B, H)
    and amounts (rBTC, wrBTC, synced sats at B; BTC at H), fold the path in (`side` says where
    each sibling stands) and compare with `root`, `total_sats` and `total_btc_sats` of
    /proof-of-reserves at the same `as_of` (`python -m reservesync.verify_reserves` does it)."""
    tree = snapshot.tree
    index = tree.index_of(bytes.fromhex(address[2:]))
    if index is None:
        raise ApiError(
            404, "unknown_address", f"{address} is not a leaf of the snapshot of {snapshot.as_of}"
        )
    holding = tree.holding(index)
    return schemas.ReservesProof(
        address=address,
        balance_sats=tree.balance(index),
        rbtc_sats=holding.rbtc_sats,
        wrbtc_sats=holding.wrbtc_sats,
        synced_sats=holding.synced_sats,
        btc_sats=holding.btc_sats,
        evm_block=tree.point.evm_block,
        btc_height=tree.point.btc_height,
        scheme=merkle.SCHEME,
        leaf_index=index,
        leaf_hash=merkle.to_hex(tree.entry(0, index)[: merkle.HASH_BYTES]),
        path=[
            schemas.ProofStep(
                side=step.side,
                hash=merkle.to_hex(step.hash),
                sum_sats=step.liabilities,
                btc_sats=step.assets,
            )
            for step in tree.proof(index)
        ],
        root=merkle.to_hex(tree.root),
        total_sats=tree.total,
        total_btc_sats=tree.total_assets,
        as_of=snapshot.as_of,
        age_s=age_s(snapshot.as_of, datetime.now(UTC)) or 0.0,
    )
