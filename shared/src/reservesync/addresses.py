"""The one rule for EVM addresses, used at every edge (HTTP inputs, message models).

EIP-55: an address in one case (all lowercase or all uppercase hex) carries no checksum and is
taken as it is; a mixed-case address is a checksum, and one that does not match is refused,
because it almost always means a typo in an address copied by hand. Accepted addresses are
carried lowercase (SPEC section 3), so every table and topic spells a user the same way.
"""

from __future__ import annotations

import re

from eth_utils.address import to_checksum_address

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
    if mixed_case and text != to_checksum_address(text.lower()):
        raise InvalidAddress("EIP-55 checksum mismatch: the address has a typo")
    return text.lower()


def is_canonical(text: str) -> bool:
    """Whether `text` is already the carried form (what `canonical` returns): for values that
    must arrive canonical, such as decoded ABI arguments or a user spliced into SQL."""
    return _CANONICAL.fullmatch(text) is not None
