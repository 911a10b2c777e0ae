"""The JSON shapes the API answers with; each is in the served OpenAPI document.

Conventions: addresses lowercase; sats as JSON integers; uint256 amounts (wei, pool amounts) as
decimal strings; times RFC 3339 UTC; ages in seconds. `as_of` is when the figures were read.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, Field
from reservesync.types import UtcDatetime


def _digits(value: object) -> object:
    # `str` of a Decimal may say `3E+4`; a numeric(78, 0) is an integer, so it goes through int.
    return str(int(value)) if isinstance(value, int | Decimal) else value


IntegerText = Annotated[str, BeforeValidator(_digits)]
"""A numeric(78, 0) (wei, uint256 amounts) as a decimal string of plain digits."""


TxType = Literal[
    "MINT",
    "BURN",
    "EMERGENCY_BURN",
    "DEPOSIT",
    "FEE_SPENT",
    "WITHDRAW",
    "WRAP",
    "REDEEM",
    "SLASH",
    "YIELD_CLAIM",
]


class Page(BaseModel):
    limit: int
    offset: int
    next_offset: int | None = Field(description="offset of the next page; null on the last")


class LastUpdate(BaseModel):
    block_number: int
    block_timestamp: UtcDatetime
    tx_hash: str


class Freshness(BaseModel):
    balance_updated_at: UtcDatetime | None = Field(
        description="block time of the newest balance change the database holds for the user"
    )
    balance_age_s: float | None
    writer_last_commit_at: UtcDatetime | None = Field(
        description="when the db-writer last committed anything (for any user): how current "
        "the database is. A quiet chain also leaves it old; consumer lag is the health "
        "service's figure"
    )
    writer_age_s: float | None


class WrapMovements(BaseModel):
    wrapped_sats: int
    redeemed_sats: int
    slashed_sats: int


class Balances(BaseModel):
    address: str
    is_user: bool = Field(
        description="a user of the protocol (seen in a `user` argument or known to the oracle); "
        "false for a holder only, e.g. someone wrBTC was sent to"
    )
    synced_sats: int = Field(
        description="the oracle-attested balance last synced on chain (OracleAggregator.Synced); "
        "0 for a holder that is no user"
    )
    rbtc_sats: int = Field(
        description="rBTC held (RBTCSynth.balanceOf), exact: the sum of every rBTC Transfer "
        "to and from the address, mints and burns included"
    )
    wrbtc_sats: int = Field(
        description="wrBTC held (VaultWrBTC.balanceOf), exact: the sum of every wrBTC "
        "Transfer, so wrBTC received from (or sent to) other holders counts"
    )
    tokens_block_number: int | None = Field(
        description="block of the newest Transfer to or from the address (null: none)"
    )
    wrbtc_movements: WrapMovements = Field(
        description="what this address wrapped, redeemed and had slashed (its own vault calls)"
    )
    last_update: LastUpdate | None = Field(description="the Synced event of synced_sats")
    freshness: Freshness
    as_of: UtcDatetime


class Transaction(BaseModel):
    chain_id: int
    tx_hash: str
    log_index: int
    block_number: int
    block_timestamp: UtcDatetime
    type: TxType = Field(validation_alias="tx_type")
    amount: IntegerText = Field(description="decimal string, in `unit`")
    unit: Literal["sats", "wei"]
    balance_after_sats: int | None
    fee_wei: IntegerText | None
    contract: str
    event: str


class Transactions(Page):
    address: str
    items: list[Transaction] = Field(description="newest first (block, then log index)")


class EmergencyBurn(BaseModel):
    user_address: str
    burned_sats: int
    reason: str
    tx_hash: str | None
    block_number: int | None
    occurred_at: UtcDatetime
    seen_on_chain: bool
    reported_by_oracle: bool


class BurnTotals(BaseModel):
    burns: int
    burned_sats: int
    seen_on_chain: int
    reported_by_oracle: int
    users: int


class EmergencyBurns(Page):
    address: str | None
    totals: BurnTotals
    totals_as_of: UtcDatetime = Field(
        description="for one address: now; across users: the aggregates snapshot's time"
    )
    items: list[EmergencyBurn] = Field(description="newest first")


class Participation(BaseModel):
    participant_type: int
    role: Literal["rbtc_holder", "usdt_provider"]
    amount: IntegerText
    active: bool
    joined_at: UtcDatetime
    left_at: UtcDatetime | None


class YieldClaims(BaseModel):
    claims: int
    claimed_sats: int


class PoolEvent(BaseModel):
    values: dict[str, str] = Field(description="the event's arguments as decoded")
    block_number: int
    at: UtcDatetime


class PoolStatus(BaseModel):
    contract: str | None = Field(description="YieldScalesPool's address, null if unregistered")
    code_present: bool | None
    participants_active: int
    participants_ever: int
    rbtc_committed: IntegerText
    usdt_committed: IntegerText
    latest_yield: PoolEvent | None = Field(description="the newest YieldCalculated")
    latest_scales: PoolEvent | None = Field(description="the newest ScalesBalanceUpdated")
    as_of: UtcDatetime
    age_s: float


class YieldStatus(BaseModel):
    address: str
    participant: Participation | None
    claims: YieldClaims
    pool: PoolStatus


class SyncStatus(BaseModel):
    address: str
    status: Literal["in_sync", "stale", "not_registered"]
    known_to_database: bool
    database_sats: int = Field(description="latest synced balance in the database (0 if none)")
    database_block: int | None
    database_at: UtcDatetime | None
    oracle_sats: int | None
    oracle_last_sync_at: UtcDatetime | None
    oracle_as_of: UtcDatetime | None
    difference_sats: int | None = Field(description="oracle_sats - database_sats")
    newer: Literal["database", "oracle"] | None = Field(
        description="which side saw the balance change last (null if unknown or equal)"
    )
    as_of: UtcDatetime


class MerkleCommitment(BaseModel):
    scheme: Literal["sha256-merkle-sum-v3"]
    root: str = Field(description="0x-prefixed root hash")
    total_sats: int = Field(
        description="the root's liabilities: every leaf's rBTC + wrBTC held (the vault's rBTC "
        "counts 0)"
    )
    total_btc_sats: int = Field(description="the root's assets: every leaf's BTC held")
    evm_block: int = Field(description="B: the EVM block every leaf's token amounts are at")
    btc_height: int = Field(description="H: the Bitcoin height every leaf's BTC is at")
    leaves: int


class Deficit(BaseModel):
    name: str = Field(description="what the deficit is, e.g. unbacked_supply_sats")
    sats: int
    explanation: str


class ProofOfReserves(BaseModel):
    total_rbtc_sats: int = Field(
        description="the liabilities: rBTC totalSupply, the sum of every holder's rBTC (the "
        "wrap vault's, which backs the wrBTC, included), from every rBTC Transfer"
    )
    wrbtc_outstanding_sats: int = Field(description="wrBTC totalSupply, from every wrBTC Transfer")
    synced_sats: int = Field(
        description="sum of every user's balance the oracle last synced on chain: the part "
        "of the supply the oracle's view backs"
    )
    unbacked_supply_sats: int = Field(
        description="total_rbtc_sats - synced_sats (never < 0): supply no synced balance backs"
    )
    deficits: list[Deficit] = Field(
        description="every named shortfall of the liabilities' backing (empty: none)"
    )
    btc_held_sats: int = Field(
        description="the assets, from Bitcoin itself: confirmed sats of every user's verified "
        "Bitcoin addresses at btc_height (never the oracle's word)"
    )
    unbacked_by_btc_sats: int = Field(
        description="total_rbtc_sats - btc_held_sats (never < 0): supply no BTC backs"
    )
    total_btc_sats: int = Field(
        description="the oracle's word, kept beside Bitcoin's: the sum of the BTC the oracle "
        "reports per user"
    )
    pending_mint_sats: int = Field(
        description="rBTC the oracle minted by its own log and the supply does not count yet: "
        "its successful MINT operations of the last API_PENDING_MINT_WINDOW_S whose Synced "
        "the database does not hold (matched by tx_hash, else by the balance synced to). The "
        "Secure-Mint rule: total_rbtc_sats + pending_mint_sats must not exceed btc_held_sats"
    )
    pending_mints: int = Field(description="those MINT operations")
    secure_mint_ok: bool = Field(
        description="total_rbtc_sats + pending_mint_sats <= btc_held_sats (the health "
        "service's under_backed alert judges the same, with a tolerance)"
    )
    evm_block: int = Field(description="B: the EVM block the liabilities are at")
    btc_height: int = Field(description="H: the Bitcoin height the assets are at")
    backing_ratio: float | None = Field(
        description="btc_held_sats / total_rbtc_sats (6 decimals), shown as is above 1; null "
        "when no rBTC exists"
    )
    status: Literal["ok", "critical"] = Field(
        description="critical when the BTC held does not cover the supply (ratio < 1)"
    )
    fully_backed: bool = Field(
        description="BTC held covers the whole supply and no supply is unbacked"
    )
    users: int = Field(description="leaves of the tree: users and other holders")
    oracle_users: int
    merkle: MerkleCommitment
    attestation_id: int | None = Field(
        description="the `proof_of_reserves` row that records this state, for later lookup"
    )
    as_of: UtcDatetime
    age_s: float


class ProofStep(BaseModel):
    side: Literal["left", "right"] = Field(description="where the sibling stands")
    hash: str
    sum_sats: int = Field(description="the sibling's liabilities")
    btc_sats: int = Field(description="the sibling's assets")


class ReservesProof(BaseModel):
    address: str
    balance_sats: int = Field(description="the leaf's sum: rbtc_sats + wrbtc_sats")
    rbtc_sats: int = Field(description="rBTC the leaf commits to (the wrap vault's: 0)")
    wrbtc_sats: int
    synced_sats: int
    btc_sats: int = Field(
        description="confirmed sats of the holder's verified Bitcoin addresses at btc_height"
    )
    evm_block: int
    btc_height: int
    scheme: Literal["sha256-merkle-sum-v3"]
    leaf_index: int
    leaf_hash: str
    path: list[ProofStep] = Field(description="siblings from the leaf up to the root")
    root: str
    total_sats: int
    total_btc_sats: int
    as_of: UtcDatetime
    age_s: float


class Dispute(BaseModel):
    user_address: str
    kind: Literal["RAISED", "RESOLVED"]
    reported_balance: IntegerText | None
    oracle_balance: IntegerText | None
    occurred_at: UtcDatetime
    tx_hash: str | None
    operation_id: str | None


class DisputeTotals(BaseModel):
    raised: int
    resolved: int
    open: int = Field(description="users whose latest dispute fact is RAISED")


class Disputes(Page):
    address: str | None
    status: Literal["open", "resolved", "none"] | None = Field(
        description="with an address: its latest fact's outcome; null across users"
    )
    totals: DisputeTotals
    totals_as_of: UtcDatetime
    items: list[Dispute] = Field(description="newest first")


class BitcoinAddress(BaseModel):
    network: Literal["mainnet", "testnet", "signet", "regtest"]
    verified_at: UtcDatetime | None
    monitoring: bool
    masked: str = Field(description="type prefix and last 4 characters, e.g. bc1q…7k9x")
    address: str | None = Field(description="the full address: only with a valid owner proof")


class BitcoinAddresses(BaseModel):
    address: str
    owner_verified: bool
    verified: int
    monitored: int
    items: list[BitcoinAddress]


class OwnerChallenge(BaseModel):
    address: str
    challenge: str = Field(
        description="sign this exact text with the address's key (EIP-191 personal_sign) and "
        "send it as X-Owner-Challenge with the signature as X-Owner-Signature"
    )
    expires_at: UtcDatetime
