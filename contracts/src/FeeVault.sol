// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title FeeVault
/// @notice Prepaid ETH balances that the OracleAggregator draws sync fees from.
contract FeeVault {
    address public immutable owner;
    address public oracle;
    mapping(address => uint256) public balanceOf;

    event Deposited(address indexed user, uint256 amount);
    event Spent(address indexed user, uint256 amount, address indexed by);
    event Withdrawn(address indexed user, uint256 amount);

    constructor(address owner_) {
        require(owner_ != address(0), "zero-owner");
        owner = owner_;
    }

    // Set once: whoever is the oracle can spend every user's deposit.
    function setOracle(address oracle_) external {
        require(msg.sender == owner, "only-owner");
        require(oracle == address(0), "oracle-set");
        require(oracle_ != address(0), "zero-address");
        oracle = oracle_;
    }

    function deposit() external payable {
        _credit(msg.sender);
    }

    function depositFor(address user) external payable {
        require(user != address(0), "zero-address");
        _credit(user);
    }

    function withdraw(uint256 amount) external {
        uint256 bal = balanceOf[msg.sender];
        require(bal >= amount, "balance");
        balanceOf[msg.sender] = bal - amount; // before the call: no re-entrancy window
        emit Withdrawn(msg.sender, amount);
        _send(msg.sender, amount);
    }

    function spendFrom(address user, uint256 amount, address to) external {
        require(msg.sender == oracle, "only-oracle");
        uint256 bal = balanceOf[user];
        require(bal >= amount, "balance");
        balanceOf[user] = bal - amount;
        emit Spent(user, amount, msg.sender);
        _send(to, amount);
    }

    function _credit(address user) private {
        require(msg.value > 0, "zero-amount");
        balanceOf[user] += msg.value;
        emit Deposited(user, msg.value);
    }

    function _send(address to, uint256 amount) private {
        (bool ok, ) = payable(to).call{value: amount}("");
        require(ok, "send-failed");
    }
}
