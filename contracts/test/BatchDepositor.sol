// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// The one FeeVault function this helper calls.
interface IDepositFor {
    function depositFor(address user) external payable;
}

/// @title BatchDepositor (test only, never deployed by the stack)
/// @notice Makes many real FeeVault `Deposited` events in one transaction, so tests and the
/// backfill benchmark reach thousands of system-contract events in a handful of blocks.
contract BatchDepositor {
    /// @notice Deposits `msg.value / count` for each of `count` users derived from `seed`:
    /// user i is the low 160 bits of keccak256(abi.encode(seed, i)), so a test can name every
    /// user it expects without reading the chain back.
    function depositForMany(address vault, uint256 seed, uint256 count) external payable {
        require(count > 0 && msg.value >= count && msg.value % count == 0, "bad-value");
        uint256 each = msg.value / count;
        for (uint256 i = 0; i < count; i++) {
            address user = address(uint160(uint256(keccak256(abi.encode(seed, i)))));
            IDepositFor(vault).depositFor{value: each}(user);
        }
    }
}
