"""SPEC section 4's rules of FeePolicy, checked against the contract on the shared dev chain,
with exact values taken from the decoded events of each receipt."""

from __future__ import annotations

from devstack.protocol import Protocol

from tests.contracts.support import (
    FIXED_WEI,
    PCT_BPS,
    POLICY,
    WEI_PER_SAT,
)


class TestFeePolicy:
    def test_deployed_parameters(self, protocol: Protocol) -> None:
        policy = protocol.contract(POLICY).functions
        assert (policy.pctBps().call(), policy.fixedWei().call(), policy.weiPerSat().call()) == (
            PCT_BPS,
            FIXED_WEI,
            WEI_PER_SAT,
        )

    def test_quote_fees(self, protocol: Protocol) -> None:
        user = protocol.new_user()
        assert protocol.quote_fees(user, 100_000) == 100_000 * 10**12 * 100 // 10_000 + 10**15
        assert protocol.quote_fees(user, 100_000) == 2 * 10**15
        assert protocol.quote_fees(user, 1) == 10**10 + 10**15
        # Burns never pay the percentage, however large.
        assert protocol.quote_fees(user, 0) == 10**15
        assert protocol.quote_fees(user, -5) == 10**15
        assert protocol.quote_fees(user, -(2**63)) == 10**15
