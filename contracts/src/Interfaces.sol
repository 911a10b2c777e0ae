// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

// Minimal views of our own contracts, shared so each contract only sees what it calls.

interface IRBTCSynth {
    function balanceOf(address account) external view returns (uint256);
    function totalSupply() external view returns (uint256);
    function mint(address to, uint256 amount) external;
    function burn(address from, uint256 amount) external;
    function burnFromVault(uint256 amount) external;
    function transfer(address to, uint256 amount) external returns (bool);
    function transferFrom(address from, address to, uint256 amount) external returns (bool);
}

interface IFeeVault {
    function balanceOf(address user) external view returns (uint256);
    function spendFrom(address user, uint256 amount, address to) external;
}

interface IFeePolicy {
    function quoteFees(address user, int64 delta) external view returns (uint256);
}

interface IVaultWrBTC {
    function slash(address user, uint256 amount) external returns (uint256 slashed);
}
