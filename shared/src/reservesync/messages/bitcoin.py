"""Messages of `rbtc.bitcoin.balances.v1` (compacted, keyed by Bitcoin address): what Bitcoin
itself says an address holds, from the bitcoin-listener."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, NonNegativeInt

from reservesync.messages.base import Message
from reservesync.messages.oracle import BitcoinAddress, Network
from reservesync.types import BitcoinHash, Sats, UtcDatetime


class BitcoinAddressBalance(Message):
    """The confirmed balance of one watched address at one Bitcoin height.

    Published at each confirmed height the listener processes where the balance changed, once
    when an address starts being watched, and at the common ancestor when a reorg takes blocks
    back (so `height` can go down; the newest record of a key is the truth). A null value
    (tombstone) under an address: it is no longer watched.
    """

    SCHEMA = "bitcoin.address_balance/v1"
    schema_: Literal["bitcoin.address_balance/v1"] = Field(
        "bitcoin.address_balance/v1", alias="schema"
    )
    address: BitcoinAddress = Field(
        min_length=14, max_length=90, description="the address, as the oracle listed it"
    )
    network: Network
    confirmed_sats: Sats = Field(
        description="sum of the address's unspent outputs in blocks up to `height`"
    )
    height: NonNegativeInt = Field(description="the Bitcoin block height this balance is at")
    block_hash: BitcoinHash = Field(description="the hash of the block at `height`")
    as_of: UtcDatetime = Field(description="that block's timestamp")
