"""rBTC and wrBTC `Transfer`s → `token_movements` (see the table in `db_writer.mapping`).

Every change of a token balance is a `Transfer`: mints come from, and burns go to, the zero
address (a wrap is rBTC user → vault plus wrBTC minted to the user; a redeem the reverse; a
slash burns wrBTC and the vault's rBTC behind it). So the Transfers alone give every holder's
exact balance, and `Wrapped`/`Redeemed`/`Slashed` add nothing to it (they stay transactions).
"""

from __future__ import annotations

from reservesync.messages import ChainEvent
from reservesync.messages.chain import ZERO_ADDRESS

from db_writer.mapping.rows import Row, Rows

TOKENS = {"RBTCSynth": "rBTC", "VaultWrBTC": "wrBTC"}


def token_of(event: ChainEvent) -> str | None:
    """The token a `Transfer` moves, or None for any other event."""
    if event.event != "Transfer":
        return None
    return TOKENS.get(event.contract.value)


def movement_rows(rows: Rows, event: ChainEvent, token: str, origin: Row) -> None:
    """One row per side that is a holder: the sender's `out`, the receiver's `in`; `origin`
    is the event's chain and provenance columns."""
    sender, receiver = event.arg_address("from"), event.arg_address("to")
    for holder, direction, counterparty in ((sender, "out", receiver), (receiver, "in", sender)):
        if holder != ZERO_ADDRESS:
            rows.add(
                "token_movements",
                {
                    "token": token,
                    "token_address": event.address,
                    "user_address": holder,
                    "direction": direction,
                    "counterparty": counterparty,
                    "amount": event.arg_int("amount"),
                    **origin,
                },
            )
