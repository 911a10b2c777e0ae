// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title RBTCSynth
/// @notice Soulbound synthetic BTC (1 unit = 1 sat). Only the OracleAggregator mints/burns it;
/// the only allowed movements are into and out of the wrap vault, which issues the
/// transferable wrBTC against it.
contract RBTCSynth {
    string public constant name = "Reserve BTC";
    string public constant symbol = "rBTC";
    uint8 public constant decimals = 8;

    address public immutable owner;
    address public minter;
    address public wrapVault;

    uint256 public totalSupply;
    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public allowance;

    event Transfer(address indexed from, address indexed to, uint256 amount);
    event Approval(address indexed owner, address indexed spender, uint256 amount);

    constructor(address owner_) {
        require(owner_ != address(0), "zero-owner");
        owner = owner_;
    }

    // Wiring is set once so the owner cannot later swap in a minter that prints rBTC.
    function setMinter(address minter_) external {
        require(msg.sender == owner, "only-owner");
        require(minter == address(0), "minter-set");
        require(minter_ != address(0), "zero-address");
        minter = minter_;
    }

    function setWrapVault(address vault_) external {
        require(msg.sender == owner, "only-owner");
        require(wrapVault == address(0), "vault-set");
        require(vault_ != address(0), "zero-address");
        wrapVault = vault_;
    }

    function mint(address to, uint256 amount) external {
        require(msg.sender == minter, "only-minter");
        require(to != address(0), "zero-address");
        totalSupply += amount;
        balanceOf[to] += amount;
        emit Transfer(address(0), to, amount);
    }

    function burn(address from, uint256 amount) external {
        require(msg.sender == minter, "only-minter");
        _burn(from, amount);
    }

    /// @notice Lets the vault destroy rBTC backing wrBTC it has just slashed, so the
    /// synth supply keeps matching the oracle-attested reserves.
    function burnFromVault(uint256 amount) external {
        require(msg.sender == wrapVault, "only-vault");
        _burn(msg.sender, amount);
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
        address vault = wrapVault;
        require(vault != address(0) && (from == vault || to == vault), "soulbound");
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
