"""GET /bitcoin-addresses and POST /owner-challenge: a user's watched Bitcoin addresses,
masked for everyone, in full for their owner.

The full addresses are encrypted at rest and `rs_api` cannot select their ciphertexts; it reads
them through `api_own_bitcoin_addresses` (migration 0003), which answers only for the user the
request's transaction names, and decrypts them here. Without an owner proof only the masked
form leaves the process.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter
from reservesync.crypto import DecryptionError
from reservesync.encrypted_fields import WATCHED_BITCOIN_ADDRESSES
from reservesync.http_errors import ApiError

from realtime_api import errors, schemas
from realtime_api.deps import AddressDep, OwnerProofDep, ReaderDep, RuntimeDep
from realtime_api.domain.masking import mask_bitcoin_address
from realtime_api.domain.owner import OwnerProofError
from realtime_api.storage import queries

router = APIRouter(tags=["bitcoin addresses"])
log = logging.getLogger(__name__)


@router.post("/owner-challenge", responses=errors.responses(400, 429))
async def post_owner_challenge(address: AddressDep, runtime: RuntimeDep) -> schemas.OwnerChallenge:
    """A short-lived challenge for the owner of `address` to sign (EIP-191 personal_sign), to
    see their own Bitcoin addresses in full. It names the address and expires at `expires_at`;
    until then it can be used for any number of reads."""
    challenge = runtime.owner_proofs.issue(address)
    return schemas.OwnerChallenge(
        address=address, challenge=challenge.text, expires_at=challenge.expires_at
    )


@router.get("/bitcoin-addresses", responses=errors.responses(400, 401, 429, 503))
async def get_bitcoin_addresses(
    address: AddressDep, proof: OwnerProofDep, reader: ReaderDep, runtime: RuntimeDep
) -> schemas.BitcoinAddresses:
    """Network, verification, monitoring and a masked form of each Bitcoin address the oracle
    watches for the user. With `X-Owner-Challenge` and `X-Owner-Signature` (see
    /owner-challenge) proving the caller holds the address's key, also the full addresses."""
    owner = False
    if proof is not None:
        try:
            runtime.owner_proofs.verify(address, proof.challenge, proof.signature)
        except OwnerProofError as exc:
            raise ApiError(401, "owner_proof_invalid", str(exc)) from exc
        owner = True
    async with reader.connection() as connection:
        rows = await connection.fetch(queries.OWN_BITCOIN_ADDRESSES, address)
    items = []
    for row in rows:
        try:
            plain = runtime.cipher.decrypt(
                bytes(row["address_ciphertext"]), context=WATCHED_BITCOIN_ADDRESSES.context(address)
            )
        except DecryptionError as exc:
            # A key rotated out of the configuration: an operator's problem, never the user's
            # input, so it is a 503 the operator sees in the log, not a 4xx.
            log.error(
                "a Bitcoin address does not decrypt", extra={"row": row["id"], "why": str(exc)}
            )
            raise ApiError(
                503, "decryption_unavailable", "a stored address cannot be decrypted here"
            ) from exc
        items.append(
            schemas.BitcoinAddress(
                network=row["network"],
                verified_at=row["verified_at"],
                monitoring=row["monitoring"],
                masked=mask_bitcoin_address(plain),
                address=plain if owner else None,
            )
        )
    return schemas.BitcoinAddresses(
        address=address,
        owner_verified=owner,
        verified=sum(item.verified_at is not None for item in items),
        monitored=sum(item.monitoring for item in items),
        items=items,
    )
