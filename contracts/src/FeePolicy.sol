// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title FeePolicy
/// @notice Prices a sync: a percentage of the minted value plus a flat fee.
/// Burns (delta <= 0) only pay the flat fee, so shrinking a balance never gets pricier.
contract FeePolicy {
    uint256 public immutable pctBps;
    uint256 public immutable fixedWei;
    uint256 public immutable weiPerSat;

    constructor(uint256 pctBps_, uint256 fixedWei_, uint256 weiPerSat_) {
        require(pctBps_ <= 10_000, "pct-too-high");
        pctBps = pctBps_;
        fixedWei = fixedWei_;
        weiPerSat = weiPerSat_;
    }

    /// @dev `user` is unused today; it is in the signature so per-user pricing can be added
    /// without changing the aggregator.
    function quoteFees(address user, int64 delta) external view returns (uint256) {
        user;
        uint256 variable = delta > 0 ? (uint256(uint64(delta)) * weiPerSat * pctBps) / 10_000 : 0;
        return variable + fixedWei;
    }
}
