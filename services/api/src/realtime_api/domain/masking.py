"""The form of a Bitcoin address anyone may see: enough for its owner to recognise it, not
enough for anyone else to find it on chain.

Kept: the part that only says what kind of address it is (bech32: the human-readable part, the
separator and the witness version, e.g. `bc1q`, `tb1p`; base58: the version character, `1`,
`3`, `m`, `n` or `2`) and the last four characters, like the last digits of a card number.
"""

from __future__ import annotations

_BECH32_PREFIXES = ("bcrt1", "bc1", "tb1")
VISIBLE_TAIL = 4
HIDDEN = "…"


def mask_bitcoin_address(address: str) -> str:
    lowered = address.lower()
    kind = next(
        (address[: len(p) + 1] for p in _BECH32_PREFIXES if lowered.startswith(p)), address[:1]
    )
    return f"{kind}{HIDDEN}{address[-VISIBLE_TAIL:]}"
