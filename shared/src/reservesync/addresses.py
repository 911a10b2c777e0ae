"""The one rule for EVM addresses, used at every edge (HTTP inputs, message models).

EIP-55: an address in one case (all lowercase or all uppercase hex) carries no checksum and is
taken as it is; a mixed-case address is a checksum, and one that does not match is refused,
because it almost always means a typo in an address copied by hand. Accepted addresses are
carried lowercase (SPEC section 3), so every table and topic spells a user the same way.
"""

from __future__ import annotations

import re

PATTERN = r"^0x[0-9a-fA-F]{40}$"
_SHAPE = re.compile(PATTERN)
_CANONICAL = re.compile(r"^0x[0-9a-f]{40}$")


class InvalidAddress(ValueError):
    """The text is not an EVM address, or its EIP-55 checksum is wrong."""


def canonical(text: str) -> str:
    """The lowercase form every table stores, after checking shape and checksum."""
    if _SHAPE.fullmatch(text) is None:
        raise InvalidAddress("must be 0x followed by 40 hexadecimal digits")
    digits = text[2:]
    mixed_case = digits not in (digits.lower(), digits.upper())
    # Echoing the right checksum would invite "fixing" a mistyped address into a
    # valid-looking wrong one.
    if mixed_case and text != checksummed(text.lower()):
        raise InvalidAddress("EIP-55 checksum mismatch: the address has a typo")
    return text.lower()


def checksummed(lower: str) -> str:
    """The EIP-55 form of a lowercase address: each letter uppercase where the matching
    nibble of keccak-256 over the lowercase hex digits is 8 or more."""
    # Imported on first use: loading it costs services a second of startup, and only a
    # mixed-case address ever needs it.
    from Crypto.Hash import keccak  # noqa: PLC0415

    digits = lower[2:]
    nibbles = keccak.new(digest_bits=256, data=digits.encode("ascii")).hexdigest()
    return "0x" + "".join(
        c.upper() if int(n, 16) >= 8 else c for c, n in zip(digits, nibbles, strict=False)
    )


def is_canonical(text: str) -> bool:
    """Whether `text` is already the carried form (what `canonical` returns): for values that
    must arrive canonical, such as decoded ABI arguments or a user spliced into SQL."""
    return _CANONICAL.fullmatch(text) is not None
