"""Checking decoded ABI values against their types, compiled once per event.

Every chain event passes here in the db-writer's hot path, so each event's argument checks are
built once (bounds precomputed, no regex for integers) and reused.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

from reservesync import addresses
from reservesync.contracts import SystemContract, event_abi

ArgValue = str | bool
"""Decoded ABI values: integers as decimal strings, addresses lowercase, bytes as 0x-hex."""
Check = Callable[[ArgValue], str | None]
"""Returns why a value cannot be of the type, or None when it can."""

_HEX = re.compile(r"^0x([0-9a-f]{2})*$")


def _integer(kind: str) -> Check:
    signed = not kind.startswith("u")
    bits = int(kind.removeprefix("u").removeprefix("int") or 256)
    low, high = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2**bits - 1)

    def check(value: ArgValue) -> str | None:
        if isinstance(value, bool):
            return "must be a decimal integer string"
        digits = value[1:] if signed and value.startswith("-") else value
        # isdigit alone admits other scripts' digits, and int() admits "1_000" and spaces.
        if not (0 < len(digits) <= 78 and digits.isascii() and digits.isdigit()):
            return "must be a decimal integer string"
        return None if low <= int(value) <= high else f"outside [{low}, {high}]"

    return check


def _pattern(regex: re.Pattern[str], problem: str) -> Check:
    def check(value: ArgValue) -> str | None:
        return None if isinstance(value, str) and regex.match(value) else problem

    return check


def _boolean(value: ArgValue) -> str | None:
    return None if isinstance(value, bool) else "not a bool"


def _address(value: ArgValue) -> str | None:
    if isinstance(value, str) and addresses.is_canonical(value):
        return None
    return "must be a lowercase 0x address"


def _text(value: ArgValue) -> str | None:
    return None if isinstance(value, str) else "not a string"


@cache
def check_for(kind: str) -> Check:
    if kind == "bool":
        return _boolean
    if kind == "string":
        return _text
    if kind == "address":
        return _address
    if kind.startswith(("uint", "int")):
        return _integer(kind)
    return _pattern(_HEX, "must be 0x-prefixed lowercase hex")


@dataclass(frozen=True)
class EventShape:
    names: frozenset[str]
    ordered: tuple[str, ...]
    checks: tuple[tuple[str, str, Check], ...]  # (name, abi type, check)

    def problem(self, event: str, args: dict[str, ArgValue]) -> str | None:
        if args.keys() != self.names:
            return f"{event} args must be exactly {list(self.ordered)}"
        for name, kind, check in self.checks:
            problem = check(args[name])
            if problem:
                return f"{event}.{name} ({kind}): {problem}"
        return None


@cache
def event_shape(contract: SystemContract, event: str) -> EventShape | None:
    abi = event_abi(contract, event)
    if abi is None:
        return None
    inputs = [(item["name"], item["type"]) for item in abi["inputs"]]
    return EventShape(
        names=frozenset(name for name, _ in inputs),
        ordered=tuple(name for name, _ in inputs),
        checks=tuple((name, kind, check_for(kind)) for name, kind in inputs),
    )
