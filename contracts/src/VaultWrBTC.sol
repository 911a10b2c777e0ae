// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IRBTCSynth} from "./Interfaces.sol";

/// @title VaultWrBTC
/// @notice Transferable ERC-20 issued 1:1 against soulbound rBTC held by this vault.
/// The oracle can slash a user's wrBTC when their attested reserves shrink below what is
/// still unwrapped, burning the backing rBTC so both supplies stay honest.
contract VaultWrBTC {
    string public constant name = "Wrapped Reserve BTC";
    string public constant symbol = "wrBTC";
    uint8 public constant decimals = 8;

    IRBTCSynth public immutable synth;
    address public immutable owner;
    address public oracle;

    uint256 public totalSupply;
    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public allowance;

    event Transfer(address indexed from, address indexed to, uint256 amount);
    event Approval(address indexed owner, address indexed spender, uint256 amount);
    event Wrapped(address indexed user, uint256 amount);
    event Redeemed(address indexed user, uint256 amount);
    event Slashed(address indexed user, uint256 amount);

    constructor(address synth_, address owner_) {
        require(synth_ != address(0) && owner_ != address(0), "zero-address");
        synth = IRBTCSynth(synth_);
        owner = owner_;
    }

    function setOracle(address oracle_) external {
        require(msg.sender == owner, "only-owner");
        require(oracle == address(0), "oracle-set");
        require(oracle_ != address(0), "zero-address");
        oracle = oracle_;
    }

    /// @notice Needs a prior `synth.approve(vault, amount)`.
    function wrap(uint256 amount) external {
        require(amount > 0, "zero-amount");
        require(synth.transferFrom(msg.sender, address(this), amount), "pull-failed");
        totalSupply += amount;
        balanceOf[msg.sender] += amount;
        emit Transfer(address(0), msg.sender, amount);
        emit Wrapped(msg.sender, amount);
    }

    function redeem(uint256 amount) external {
        require(amount > 0, "zero-amount");
        _burn(msg.sender, amount);
        emit Redeemed(msg.sender, amount);
        require(synth.transfer(msg.sender, amount), "return-failed");
    }

    /// @notice Burns up to `amount` of `user`'s wrBTC (they may have moved some away) and
    /// the rBTC backing it. Emits and returns the amount actually slashed.
    function slash(address user, uint256 amount) external returns (uint256 slashed) {
        require(msg.sender == oracle, "only-oracle");
        uint256 bal = balanceOf[user];
        slashed = amount < bal ? amount : bal;
        if (slashed == 0) return 0;
        _burn(user, slashed);
        synth.burnFromVault(slashed);
        emit Slashed(user, slashed);
    }

    function approve(address spender, uint256 amount) external returns (bool) {
        allowance[msg.sender][spender] = amount;
        emit Approval(msg.sender, spender, amount);
        return true;
    }

    function transfer(address to, uint256 amount) external returns (bool) {
        _transfer(msg.sender, to, amount);
        return true;
    }

    function transferFrom(address from, address to, uint256 amount) external returns (bool) {
        uint256 allowed = allowance[from][msg.sender];
        if (allowed != type(uint256).max) {
            require(allowed >= amount, "allowance");
            allowance[from][msg.sender] = allowed - amount;
        }
        _transfer(from, to, amount);
        return true;
    }

    function _transfer(address from, address to, uint256 amount) private {
        require(to != address(0), "zero-address");
        uint256 bal = balanceOf[from];
        require(bal >= amount, "balance");
        unchecked {
            balanceOf[from] = bal - amount;
        }
        balanceOf[to] += amount;
        emit Transfer(from, to, amount);
    }

    function _burn(address from, uint256 amount) private {
        uint256 bal = balanceOf[from];
        require(bal >= amount, "balance");
        unchecked {
            balanceOf[from] = bal - amount;
            totalSupply -= amount;
        }
        emit Transfer(from, address(0), amount);
    }
}
