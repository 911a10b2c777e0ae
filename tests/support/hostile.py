"""Hostile record values, as Hypothesis strategies: arbitrary bytes, arbitrary JSON (deep
nesting, huge numbers, NUL, lone surrogates), valid messages with one field pushed to an ABI
extreme or out of it, wrong schemas and unknown event names. What a consumer must survive."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

UINT64_MAX = 2**64 - 1
UINT256_MAX = 2**256 - 1
# Integers as decimal strings at and past every ABI bound the contracts use.
EXTREME_DECIMALS = [
    "0",
    "-1",
    "-0",
    str(2**31 - 1),
    str(2**32),
    str(2**63 - 1),
    str(2**63),
    str(-(2**63)),
    str(-(2**63) - 1),
    str(UINT64_MAX),
    str(2**64),
    str(UINT256_MAX),
    str(2**256),
    str(-(2**255)),
    str(-(2**255) - 1),
    "1" * 79,
    "1e3",
    " 1",
    "0x10",
    "",
    "١٢",
    "1_000",
]
# Integers as JSON numbers, for the message fields that are numbers (heights, indexes, sats).
EXTREME_INTEGERS = [
    -1,
    0,
    2**31 - 1,
    2**31,
    2**63 - 1,
    2**63,
    UINT64_MAX,
    2**64,
    UINT256_MAX,
    2**256,
    -(2**255),
]
STRANGE_TEXT = ["\x00", "a\x00b", "\ud800", "x\udfffy", "\U0010ffff", "'; DROP TABLE users; --"]


def _nested(depth: int, opener: bytes, closer: bytes, inner: bytes = b"1") -> bytes:
    return opener * depth + inner + closer * depth


deep_nesting = st.one_of(
    st.integers(min_value=17, max_value=100_000).map(lambda n: _nested(n, b"[", b"]")),
    st.integers(min_value=17, max_value=100_000).map(lambda n: _nested(n, b'{"a":', b"}")),
    # Deep inside an otherwise plausible chain event, where the fast path looks first.
    st.integers(min_value=17, max_value=100_000).map(
        lambda n: b'{"schema":"chain.event/v1","args":' + _nested(n, b"[", b"]") + b"}"
    ),
)
text = st.one_of(st.text(max_size=12), st.sampled_from(STRANGE_TEXT))
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**300), max_value=2**300),
    st.sampled_from(EXTREME_INTEGERS),
    st.floats(allow_nan=False, allow_infinity=False),
    text,
)
json_documents = st.recursive(
    json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.one_of(text, st.just("schema")), children, max_size=4),
    ),
    max_leaves=16,
)


def dumps(document: Any) -> bytes:
    # ensure_ascii writes a lone surrogate as its \u escape, as a hostile producer would.
    return json.dumps(document, ensure_ascii=True).encode()


def mutations(valid: dict[str, Any]) -> st.SearchStrategy[bytes]:
    """`valid` (a message's JSON object) with one field, or one of its `args`, replaced by
    something at or past a bound, of another type, or missing; also unknown schemas and events."""
    fields = sorted(valid)
    replacement = st.one_of(
        st.sampled_from(EXTREME_DECIMALS),
        st.sampled_from(EXTREME_INTEGERS),
        text,
        json_scalars,
        json_documents,
    )

    def replaced(field: str, value: Any) -> bytes:
        return dumps({**valid, field: value})

    def dropped(field: str) -> bytes:
        return dumps({k: v for k, v in valid.items() if k != field})

    strategies = [
        st.builds(replaced, st.sampled_from(fields), replacement),
        st.builds(dropped, st.sampled_from(fields)),
        st.builds(replaced, st.just("schema"), st.sampled_from(["chain.event/v9", "", "x"])),
        st.builds(replaced, st.just("event"), st.sampled_from(["Minted", "", "\x00", "Synced"])),
    ]
    args = valid.get("args")
    if isinstance(args, dict) and args:
        strategies.append(
            st.builds(
                lambda name, value: dumps({**valid, "args": {**args, name: value}}),
                st.sampled_from(sorted(args)),
                replacement,
            )
        )
    return st.one_of(strategies)


def hostile_values(valid: dict[str, Any]) -> st.SearchStrategy[bytes]:
    """Any of the above, mutations of `valid` weighted as much as pure garbage."""
    return st.one_of(
        st.binary(max_size=512),
        deep_nesting,
        json_documents.map(dumps),
        st.builds(
            lambda doc: dumps({"schema": valid.get("schema"), **doc}),
            st.dictionaries(text, json_scalars, max_size=4),
        ),
        mutations(valid),
    )
