"""The API's pure parts: owner proofs, masking, the rate limiter and the sync classification
(the Merkle sum tree: tests/shared/test_merkle.py)."""

from __future__ import annotations

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from realtime_api.domain.freshness import SyncState, classify
from realtime_api.domain.masking import mask_bitcoin_address
from realtime_api.domain.owner import OwnerProofError, OwnerProofs
from realtime_api.ratelimit import RateLimiter, retry_after
from realtime_api.storage.database import Reader


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_owner_challenges_expire_and_bind_their_address() -> None:
    clock = Clock(1_757_667_600.0)
    proofs = OwnerProofs(b"k" * 32, ttl_s=300, clock=clock)
    owner = Account.create()
    user = str(owner.address).lower()
    challenge = proofs.issue(user)
    signature = (
        "0x" + bytes(owner.sign_message(encode_defunct(text=challenge.text)).signature).hex()
    )
    proofs.verify(user, challenge.text, signature)
    with pytest.raises(OwnerProofError, match="another address"):
        proofs.verify(str(Account.create().address).lower(), challenge.text, signature)
    other_key = OwnerProofs(b"j" * 32, ttl_s=300, clock=clock)
    with pytest.raises(OwnerProofError, match="not issued by this API"):
        other_key.verify(user, challenge.text, signature)
    clock.now += 301
    with pytest.raises(OwnerProofError, match="expired"):
        proofs.verify(user, challenge.text, signature)


def test_masks_keep_the_kind_and_the_last_four() -> None:
    assert mask_bitcoin_address("bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq") == "bc1q…5mdq"
    assert mask_bitcoin_address("BC1QAR0SRRR7XFKVY5L643LYDNW9RE59GTZZWF5MDQ") == "BC1Q…5MDQ"
    assert mask_bitcoin_address("bcrt1qxyz0000000000000000000abcd") == "bcrt1q…abcd"
    assert mask_bitcoin_address("3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy") == "3…WNLy"


def test_the_rate_limiter_refills_and_forgets_old_clients() -> None:
    clock = Clock(0.0)
    limiter = RateLimiter(rate=2.0, burst=3, max_clients=100, clock=clock)
    assert [limiter.acquire("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.acquire("a") == pytest.approx(0.5)
    assert limiter.acquire("b") == 0.0  # clients have their own buckets
    clock.now += 0.5
    assert limiter.acquire("a") == 0.0
    assert retry_after(0.01) == "1"
    assert retry_after(2.2) == "3"
    small = RateLimiter(rate=1.0, burst=1, max_clients=100, clock=clock)
    for n in range(150):
        small.acquire(f"client-{n}")
    assert small.acquire("client-0") == 0.0  # forgotten, so it starts with a full bucket


def test_sync_classification() -> None:
    assert classify(10, 10) is SyncState.IN_SYNC
    assert classify(0, 10) is SyncState.STALE
    assert classify(10, None) is SyncState.NOT_REGISTERED


@pytest.mark.parametrize("user", ["0xABC", "'; DROP TABLE users; --", "", "**", "0x" + "g" * 40])
async def test_the_reader_refuses_to_splice_anything_but_a_canonical_address(user: str) -> None:
    reader = Reader(pool=None, acquire_timeout_s=1)  # refused before the pool is touched
    with pytest.raises(ValueError, match="canonical"):
        async with reader.as_user(user):
            pass
